"""A user's table: CSV/TSV, relative paths, configurable columns, split and fold columns, refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from hear_byols.errors import CorpusError, SplitError
from hear_byols.probe.splits import column_split
from hear_byols.probe.table import read_table
from helpers.probe_trees import touch_all


def write(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(delimiter.join(row) for row in rows).encode(encoding) + b"\n")
    return path


@pytest.fixture
def audio(tmp_path) -> Path:
    """Six clips of three speakers, in a folder beside where the tables go."""
    touch_all(tmp_path, [f"audio/{speaker}_{i}.wav" for speaker in ("ann", "bob", "cid") for i in (1, 2)])
    return tmp_path


def rows_for(split: dict[str, str] | None = None) -> list[list[str]]:
    header = ["path", "label", "speaker"] + (["split"] if split else [])
    body = [[f"audio/{speaker}_{i}.wav", "ab"[i - 1], speaker] + ([split[speaker]] if split else [])
            for speaker in ("ann", "bob", "cid") for i in (1, 2)]
    return [header] + body


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t"), (".tab", "\t"), (".txt", ";"),
                                               (".txt", "\t")])
def test_reads_csv_and_tsv_with_paths_relative_to_the_table(audio, suffix, delimiter):
    table = write(audio / f"labels{suffix}", rows_for(), delimiter)
    corpus = read_table(table)
    assert corpus.name == "labels" and len(corpus) == 6
    assert corpus.clips[0].path == (audio / "audio/ann_1.wav").resolve()
    assert corpus.clips[0].path.is_absolute()
    assert [(clip.label, clip.speaker) for clip in corpus.clips[:2]] == [("a", "ann"), ("b", "ann")]
    assert corpus.serab_key is None and corpus.split_kind is None and not corpus.comparable_with_serab
    assert {clip.dataset for clip in corpus.clips} == {"labels"}


def test_relative_paths_follow_the_table_not_the_working_directory(audio, monkeypatch):
    rows = [["path", "label", "speaker"]] + [[f"../audio/{s}_{i}.wav", "a", s] for s in ("ann", "bob") for i in (1, 2)]
    table = write(audio / "tables" / "t.csv", rows)
    monkeypatch.chdir(audio / "audio")
    assert read_table(table).clips[0].path == (audio / "audio/ann_1.wav").resolve()


def test_absolute_paths_are_kept(audio):
    rows = [["path", "label", "speaker"], [str(audio / "audio/ann_1.wav"), "a", "ann"]]
    assert read_table(write(audio / "elsewhere" / "t.csv", rows)).clips[0].path == (audio / "audio/ann_1.wav")


def test_configurable_columns_a_bom_and_blanks(audio):
    rows = [["Speaker ID", "file", "emotion", "notes"]] + [[f" {s} ", f"audio/{s}_{i}.wav", " happy ", "x"]
                                                            for s in ("ann", "bob") for i in (1, 2)]
    table = write(audio / "t.csv", rows, encoding="utf-8-sig")
    corpus = read_table(table, path_column="file", label_column="emotion", speaker_column="Speaker ID", name="mine")
    assert corpus.name == "mine" and set(corpus.labels.tolist()) == {"happy"}
    assert corpus.speakers.tolist() == ["ann", "ann", "bob", "bob"]


def test_speaker_ids_stay_strings(audio):
    rows = [["path", "label", "speaker"], ["audio/ann_1.wav", "a", "01"], ["audio/ann_2.wav", "a", "1"]]
    assert read_table(write(audio / "t.csv", rows)).speakers.tolist() == ["01", "1"]


def test_split_column(audio):
    table = write(audio / "t.csv", rows_for({"ann": "train", "bob": "Dev", "cid": "TEST"}))
    corpus = read_table(table, split_column="split")
    assert corpus.split_kind == "split"
    assert [clip.split for clip in corpus.clips] == ["train"] * 2 + ["validation"] * 2 + ["test"] * 2
    [fold] = column_split(corpus)
    assert (fold.train.tolist(), fold.validation.tolist(), fold.test.tolist()) == ([0, 1], [2, 3], [4, 5])


def test_fold_column(audio):
    table = write(audio / "t.csv", rows_for({"ann": "1", "bob": "2", "cid": "3"}))
    corpus = read_table(table, fold_column="split")
    assert corpus.split_kind == "fold" and [clip.split for clip in corpus.clips] == list("112233")
    folds = column_split(corpus)
    assert [fold.test.tolist() for fold in folds] == [[0, 1], [2, 3], [4, 5]]


def test_refuses_an_unknown_split_value_naming_it(audio):
    table = write(audio / "t.csv", rows_for({"ann": "train", "bob": "holdout", "cid": "test"}))
    with pytest.raises(SplitError, match=r"t.csv, line 4: unknown split value 'holdout'"):
        read_table(table, split_column="split")


def test_refuses_missing_columns_naming_those_found(audio):
    table = write(audio / "t.csv", [["file", "label", "who"], ["audio/ann_1.wav", "a", "ann"]])
    with pytest.raises(CorpusError, match=r"no column 'path', 'speaker'; the columns found are 'file', 'label', "
                                          r"'who'"):
        read_table(table)
    with pytest.raises(CorpusError, match="no column 'fold'"):
        read_table(table, path_column="file", speaker_column="who", fold_column="fold")


def test_refuses_a_path_that_does_not_exist_naming_it(audio):
    rows = rows_for() + [["audio/gone.wav", "a", "ann"]]
    with pytest.raises(CorpusError, match=r"1 path\(s\) are not files: .*audio/gone.wav"):
        read_table(write(audio / "t.csv", rows))
    rows = rows_for() + [["audio", "a", "ann"]]  # a folder is not a clip
    with pytest.raises(CorpusError, match="are not files"):
        read_table(write(audio / "t.csv", rows))


def test_refuses_duplicate_paths(audio):
    rows = rows_for() + [["./audio/ann_1.wav", "b", "ann"]]  # the same file, spelled otherwise
    with pytest.raises(CorpusError, match=r"1 path\(s\) listed more than once: .*ann_1.wav"):
        read_table(write(audio / "t.csv", rows))


@pytest.mark.parametrize("column", [1, 2])
def test_refuses_empty_labels_and_speakers(audio, column):
    rows = rows_for()
    rows[3][column] = "  "
    with pytest.raises(CorpusError, match=f"line 4: the '{rows[0][column]}' value is empty"):
        read_table(write(audio / "t.csv", rows))


def test_refuses_malformed_tables(audio):
    with pytest.raises(CorpusError, match="no such table"):
        read_table(audio / "absent.csv")
    with pytest.raises(CorpusError, match="is a folder"):
        read_table(audio / "audio")
    with pytest.raises(CorpusError, match="the table is empty"):
        read_table(write(audio / "empty.csv", [[""]]))
    with pytest.raises(CorpusError, match="header but no rows"):
        read_table(write(audio / "header.csv", [["path", "label", "speaker"]]))
    with pytest.raises(CorpusError, match="line 3: 2 fields where the header has 3"):
        read_table(write(audio / "ragged.csv", rows_for()[:2] + [["audio/bob_1.wav", "a"]]))
    with pytest.raises(CorpusError, match="'label' appear more than once"):
        read_table(write(audio / "twice.csv", [["path", "label", "label", "speaker"]]))
    (audio / "latin1.csv").write_bytes("path,label,speaker\naudio/ann_1.wav,col\xe8re,ann\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        read_table(audio / "latin1.csv")
    (audio / "nul.csv").write_bytes(b"path,label,speaker\naudio/ann\x00_1.wav,a,ann\n")
    with pytest.raises(CorpusError, match="NUL bytes"):
        read_table(audio / "nul.csv")
    write(audio / "huge.csv", [["path", "label", "speaker"], ["audio/ann_1.wav", "a" * 200_000, "ann"]])
    with pytest.raises(CorpusError, match="line 2: not a readable CSV/TSV row"):
        read_table(audio / "huge.csv")
    with pytest.raises(CorpusError, match="not both"):
        read_table(write(audio / "t.csv", rows_for()), split_column="a", fold_column="b")
