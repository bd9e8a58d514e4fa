"""IEMOCAP, 4 classes (anger, happiness = hap + exc, sadness, neutral), grouped by the TRUE speaker.

Layout (``IEMOCAP_full_release``): ``Session{1-5}/dialog/EmoEvaluation/<dialog>.txt`` holds one
line per utterance, ``[start - end]<TAB>utterance<TAB>label<TAB>[V, A, D]``; the audio is
``Session{n}/sentences/wav/<dialog>/<utterance>.wav``. An utterance id such as
``Ses01F_impro01_M000`` names the session (01), the gender of the actor who wore the markers in that
dialog (F) and, in its last field, the gender of the actor who SPEAKS it (M). Each session has one
female and one male actor, so the speaker is session + speaking gender: ``Ses01M``.

SERAB grouped by characters 3-6 of the id (``01F``): the dialog's session and marker gender. Both
actors speak in every dialog, so each actor's speech lands in two groups and test shares speakers
with train. Our grouping therefore differs, and IEMOCAP scores do not compare with SERAB's.
Utterances labelled otherwise (frustration, surprise, fear, disgust, other, no agreement: ``xxx``)
are left out and counted by label.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hear_byols.errors import CorpusError
from hear_byols.probe.corpus import Clip, listing

LABELS = {"ang": "anger", "hap": "happiness", "exc": "happiness", "sad": "sadness", "neu": "neutral"}
UTTERANCE = re.compile(r"(Ses0[1-5])[FM]_(.+)_([FM])(\d{3})")
SESSION_FOLDER = re.compile(r"Session[1-5]")


def read_iemocap(root: Path, dataset: str) -> tuple[list[Clip], Counter]:
    """The 4-class clips under ``root`` and the left-out utterances counted by reason."""
    annotations = sorted(path for folder in _sessions(root)
                         for path in (folder / "dialog" / "EmoEvaluation").glob("*.txt")
                         if not path.name.startswith("."))
    if not annotations:
        raise CorpusError(f"IEMOCAP: no Session*/dialog/EmoEvaluation/*.txt under {root}; give the "
                          "IEMOCAP_full_release folder")
    clips, excluded, missing = [], Counter(), []
    for annotation in annotations:
        for utterance, label in _utterances(annotation):
            if label not in LABELS:
                excluded[f"label {label!r}: not one of the 4 classes"] += 1
                continue
            match = UTTERANCE.fullmatch(utterance)
            if match is None:
                raise CorpusError(f"{annotation}: utterance id {utterance!r} does not follow IEMOCAP's naming "
                                  "(SesNNG_dialog_GNNN, e.g. Ses01F_impro01_M000)")
            session = annotation.parents[2]
            wav = session / "sentences" / "wav" / utterance.rsplit("_", 1)[0] / f"{utterance}.wav"
            if not wav.is_file():
                missing.append(str(wav))
                continue
            speaker = match.group(1) + match.group(3)
            clips.append(Clip(path=wav.resolve(), label=LABELS[label], speaker=speaker, dataset=dataset))
    if missing:
        raise CorpusError(f"IEMOCAP: {len(missing)} annotated utterance(s) have no audio file: {listing(missing)}; "
                          "the copy is incomplete")
    return clips, excluded


def _sessions(root: Path) -> list[Path]:
    sessions = sorted(path for path in root.iterdir() if path.is_dir() and SESSION_FOLDER.fullmatch(path.name))
    if not sessions:
        raise CorpusError(f"IEMOCAP: no Session1..Session5 folder in {root}; give the IEMOCAP_full_release folder")
    return sessions


def _utterances(annotation: Path) -> list[tuple[str, str]]:
    """(utterance id, label) of each ``[start - end]`` line of one evaluation file."""
    try:
        lines = annotation.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise CorpusError(f"{annotation}: not a text file (IEMOCAP's evaluation files are plain text)") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("["):
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 3 or not fields[1].strip() or not fields[2].strip():
            raise CorpusError(f"{annotation}, line {number}: expected '[start - end]<TAB>utterance<TAB>label"
                              f"<TAB>[V, A, D]', got {line[:80]!r}")
        found.append((fields[1].strip(), fields[2].strip()))
    return found
