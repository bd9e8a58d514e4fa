"""A user's own corpus as a table: one row per clip with its path, label and speaker.

CSV or TSV: the delimiter comes from the extension (``.csv`` comma, ``.tsv``/``.tab`` tab), else
is sniffed among comma, tab and semicolon. Paths are relative to the table's folder (absolute ones
are kept). Values are stripped of surrounding blanks; speaker ids stay strings ("01" is not "1").
An optional split column holds train/validation/test (``val``/``valid``/``dev`` count as
validation, case does not matter); an optional fold column holds fold ids. Every path must exist:
whether its audio decodes is the run's business, not the table's.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from hear_byols.errors import CorpusError, SplitError
from hear_byols.probe.corpus import Clip, Corpus, SplitKind, listing

#: Accepted spellings of the split names, lower-cased, and the name each one means.
SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
               "val": "validation", "dev": "validation", "test": "test", "testing": "test"}
DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
SNIFF_BYTES = 65536


def read_table(path, *, path_column: str = "path", label_column: str = "label",
               speaker_column: str = "speaker", split_column: str | None = None,
               fold_column: str | None = None, name: str | None = None) -> Corpus:
    """The table at ``path`` as a corpus named ``name`` (default: the table's file stem)."""
    table = Path(path)
    if split_column is not None and fold_column is not None:
        raise CorpusError(f"{table}: give a split column or a fold column, not both "
                          f"({split_column!r} and {fold_column!r})")
    rows, header = _rows(table)
    column = split_column if split_column is not None else fold_column
    wanted = [path_column, label_column, speaker_column] + ([column] if column is not None else [])
    missing = [name_ for name_ in wanted if name_ not in header]
    if missing:
        raise CorpusError(f"{table}: no column {listing(repr(m) for m in missing)}; the columns found are "
                          f"{listing((repr(h) for h in header), shown=20)} (choose them with the column options)")
    kind: SplitKind | None = "split" if split_column is not None else "fold" if fold_column is not None else None
    corpus_name = name if name is not None else table.stem
    clips = [_clip(table, line, row, (path_column, label_column, speaker_column, column), kind, corpus_name)
             for line, row in rows]
    if not clips:
        raise CorpusError(f"{table}: the table has a header but no rows")
    _check_exist(table, clips)
    return Corpus(name=corpus_name, clips=tuple(clips), serab_key=None, comparable_with_serab=False,
                  split_kind=kind)


def _rows(table: Path) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line number, row) pairs and the header; every row has exactly the header's fields."""
    try:
        text = table.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{table}: no such table") from None
    except IsADirectoryError:
        raise CorpusError(f"{table}: is a folder, not a table (give a .csv or .tsv file)") from None
    except UnicodeDecodeError as error:
        raise CorpusError(f"{table}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise CorpusError(f"{table}: holds NUL bytes, so it is not a text table (save it as UTF-8 CSV or TSV)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(table, text))
    try:
        lines = [(reader.line_num, row) for row in reader if row and any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise CorpusError(f"{table}, line {reader.line_num}: not a readable CSV/TSV row ({error})") from None
    if not lines:
        raise CorpusError(f"{table}: the table is empty (it needs a header row, then one row per clip)")
    header = [cell.strip() for cell in lines[0][1]]
    twice = sorted({cell for cell in header if header.count(cell) > 1})
    if twice:
        raise CorpusError(f"{table}: column(s) {listing(repr(c) for c in twice)} appear more than once in the header")
    rows = []
    for line, row in lines[1:]:
        if len(row) != len(header):
            raise CorpusError(f"{table}, line {line}: {len(row)} fields where the header has {len(header)}")
        rows.append((line, {key: cell.strip() for key, cell in zip(header, row)}))
    return rows, header


def _delimiter(table: Path, text: str) -> str:
    suffix = table.suffix.lower()
    if suffix in DELIMITERS:
        return DELIMITERS[suffix]
    try:
        return csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",\t;").delimiter
    except csv.Error:
        raise CorpusError(f"{table}: cannot tell the delimiter; name the file .csv (commas) or .tsv (tabs)") from None


def _clip(table: Path, line: int, row: dict[str, str], columns: tuple[str, str, str, str | None],
          kind: SplitKind | None, dataset: str) -> Clip:
    path_column, label_column, speaker_column, split_column = columns
    for column in (c for c in columns if c is not None):
        if not row[column]:
            raise CorpusError(f"{table}, line {line}: the {column!r} value is empty; every row needs one")
    split = row[split_column] if split_column is not None else None
    if kind == "split":
        split = split_name(split, f"{table}, line {line}")
    path = Path(row[path_column])
    path = (path if path.is_absolute() else table.parent / path).resolve()
    return Clip(path=path, label=row[label_column], speaker=row[speaker_column], dataset=dataset, split=split)


def split_name(value: str, where: str) -> str:
    """The canonical split name ``value`` spells, or an error naming the accepted values."""
    canonical = SPLIT_NAMES.get(value.strip().lower())
    if canonical is None:
        raise SplitError(f"{where}: unknown split value {value!r}; a split column holds train, validation "
                          "or test (use a fold column for fold ids)")
    return canonical


def _check_exist(table: Path, clips: list[Clip]) -> None:
    missing = [str(clip.path) for clip in clips if not clip.path.is_file()]
    if missing:
        raise CorpusError(f"{table}: {len(missing)} path(s) are not files: {listing(missing)} "
                          f"(paths are relative to the table's folder, {table.parent.resolve()})")
