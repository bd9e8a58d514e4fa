"""Synthetic dataset folders in the native layouts, with the real file naming and empty files.

The readers never open audio, so empty files test the parsing; a test that decodes audio writes
real clips (``helpers.audio``). The full RAVDESS speech layout and the CREMA-D grid give the SERAB
check values on the real clip counts.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: CREMA-D's twelve sentences; IEO alone is spoken at three levels (LO/MD/HI) besides XX.
CREMA_D_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
CREMA_D_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
#: In CREMA-D's AudioWAV folder but not in TFDS's crema_d (the release spells the first ``_X``).
CREMA_D_NOT_IN_TFDS = ("1040_ITH_SAD_X", "1006_TIE_NEU_XX", "1013_WSI_DIS_XX", "1017_IWW_FEA_XX")


def touch_all(root: Path, relative_paths: Iterable[str]) -> list[Path]:
    """Create each file (and its folders) under ``root``; returns the paths."""
    paths = []
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        paths.append(path)
    return paths


def ravdess_speech_names(actors: Iterable[int] = range(1, 25)) -> list[str]:
    """The 60 speech files of each actor: 8 emotions (neutral at normal intensity only) x 2
    statements x 2 repetitions; 03 = audio-only, 01 = speech."""
    names = []
    for actor in actors:
        for emotion in range(1, 9):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        names.append(f"Actor_{actor:02d}/03-01-{emotion:02d}-{intensity:02d}-"
                                     f"{statement:02d}-{repetition:02d}-{actor:02d}.wav")
    return names


def crema_d_names(actors: Iterable[int] = range(1001, 1092)) -> list[str]:
    """The 82-clip grid of each actor (IEO: NEU_XX + 5 emotions x LO/MD/HI; 11 sentences x 6
    emotions at XX), with the release's one ``_X`` name (1040_ITH_SAD_X). The real release lacks 20
    more train-actor clips of this grid, which we cannot name."""
    names = []
    for actor in actors:
        for sentence in CREMA_D_SENTENCES:
            for emotion in CREMA_D_EMOTIONS:
                levels = ("XX",) if sentence != "IEO" or emotion == "NEU" else ("LO", "MD", "HI")
                names.extend(f"{actor}_{sentence}_{emotion}_{level}.wav" for level in levels)
    return [name.replace("1040_ITH_SAD_XX", "1040_ITH_SAD_X") for name in names]
