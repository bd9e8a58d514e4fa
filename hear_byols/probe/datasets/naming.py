"""File-name rules of the datasets whose labels and speakers are in their file names.

Each rule is the dataset's documented naming as a regular expression over the file's stem, and a
function from the match (and the file's folder, which several layouts also encode) to the clip's
label and speaker. Speaker strings are the ones SERAB used for the datasets it scored with a right
speaker field, so that its split, which sorts them as strings, is reproduced. A mismatch between the name and its
folder is an error: one of the two is wrong, and guessing which would mislabel the clip.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hear_byols.errors import CorpusError


@dataclass(frozen=True)
class Parsed:
    """A file's label and speaker, or (``label`` None) why the dataset's subset leaves it out."""

    label: str | None
    speaker: str
    excluded: str = ""


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern
    example: str  # a real file name, for the error message
    parse: Callable[[re.Match, Path], Parsed]


def _folder_must_be(path: Path, expected: str, field: str) -> None:
    if path.parent.name.lower() != expected.lower():
        raise CorpusError(f"{path}: its name says {field} {expected!r} but it is in folder {path.parent.name!r}; "
                          "one of the two is wrong (fix or remove the file)")


RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger",
                    "06": "fear", "07": "disgust", "08": "surprise"}


def _ravdess(match: re.Match, path: Path) -> Parsed:
    channel, emotion, actor = match.group(1), match.group(2), match.group(6)
    _folder_must_be(path, f"Actor_{actor}", "actor")
    if channel == "02":
        return Parsed(None, actor, "song (vocal channel 02): the speech subset only")
    return Parsed(RAVDESS_EMOTIONS[emotion], actor)


CREMA_D_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
                    "SAD": "sadness"}
CREMA_D_SENTENCES = "IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI"
#: In the AudioWAV folder but not in TFDS's crema_d, which SERAB scored: TFDS could not fetch them by
#: the summary table's names (the release calls the first one 1040_ITH_SAD_X.wav). Three of them are
#: the same recording as another label's file (1006 TIE NEU = HAP, 1013 WSI DIS = SAD, 1017 IWW FEA = ANG).
CREMA_D_NOT_IN_SERAB = ("1040_ITH_SAD", "1006_TIE_NEU", "1013_WSI_DIS", "1017_IWW_FEA")


def _crema_d(match: re.Match, path: Path) -> Parsed:
    actor, sentence, emotion, level = match.groups()
    if f"{actor}_{sentence}_{emotion}" in CREMA_D_NOT_IN_SERAB and level in ("XX", "X"):
        return Parsed(None, actor, "not in SERAB's (TFDS's) CREMA-D: unfetched by TFDS; 3 duplicate another "
                                   "label's recording")
    return Parsed(CREMA_D_EMOTIONS[emotion], actor)

EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
                  "N": "neutral"}

SAVEE_EMOTIONS = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral", "sa": "sadness",
                  "su": "surprise"}


def _savee(match: re.Match, path: Path) -> Parsed:
    speaker = path.parent.name
    if not re.fullmatch(r"[A-Z]{2}", speaker):
        raise CorpusError(f"{path}: SAVEE keeps each speaker's files in a folder named by his initials "
                          f"(DC, JE, JK, KL), not {speaker!r}")
    return Parsed(SAVEE_EMOTIONS[match.group(1)], speaker)


CAFE_EMOTIONS = {"C": "anger", "D": "disgust", "J": "happiness", "N": "neutral", "P": "fear", "S": "surprise",
                 "T": "sadness"}


def _cafe(match: re.Match, path: Path) -> Parsed:
    actor, emotion, intensity = match.group(1), match.group(2), match.group(3)
    if (emotion == "N") != (intensity is None):
        raise CorpusError(f"{path}: in CaFE only neutral files (N) have no intensity field "
                          "(AA-N-S; the others are AA-E-I-S)")
    return Parsed(CAFE_EMOTIONS[emotion], actor)


EMOVO_EMOTIONS = {"dis": "disgust", "gio": "happiness", "neu": "neutral", "pau": "fear", "rab": "anger",
                  "sor": "surprise", "tri": "sadness"}


def _emovo(match: re.Match, path: Path) -> Parsed:
    _folder_must_be(path, match.group(2), "speaker")
    return Parsed(EMOVO_EMOTIONS[match.group(1)], match.group(2))


AESDD_EMOTIONS = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "s": "sadness"}


def _aesdd(match: re.Match, path: Path) -> Parsed:
    label = AESDD_EMOTIONS[match.group(1)]
    _folder_must_be(path, label, "emotion")
    return Parsed(label, str(int(match.group(3))))


SHEMO_EMOTIONS = {"A": "anger", "F": "fear", "H": "happiness", "N": "neutral", "S": "sadness", "W": "surprise"}


def _shemo(match: re.Match, path: Path) -> Parsed:
    gender, number, emotion = match.group(1), match.group(2), match.group(3)
    _folder_must_be(path, "female" if gender == "F" else "male", "gender")
    return Parsed(SHEMO_EMOTIONS[emotion], f"{gender}{number}")


SUBESCO_EMOTIONS = {"ANGRY": "anger", "DISGUST": "disgust", "FEAR": "fear", "HAPPY": "happiness",
                    "NEUTRAL": "neutral", "SAD": "sadness", "SURPRISE": "surprise"}

URDU_EMOTIONS = {"A": ("Angry", "anger"), "H": ("Happy", "happiness"), "N": ("Neutral", "neutral"),
                 "S": ("Sad", "sadness")}


def _urdu(match: re.Match, path: Path) -> Parsed:
    folder, label = URDU_EMOTIONS[match.group(3)]
    _folder_must_be(path, folder, "emotion")
    return Parsed(label, match.group(1))


BAVED_LEVELS = {"0": "low", "1": "normal", "2": "high"}


def _baved(match: re.Match, path: Path) -> Parsed:
    _folder_must_be(path, match.group(4), "word")
    return Parsed(BAVED_LEVELS[match.group(5)], match.group(1))


RULES: dict[str, NameRule] = {
    # modality-channel-emotion-intensity-statement-repetition-actor; audio-only (03) files only
    "ravdess": NameRule(re.compile(r"03-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)"),
                        "Actor_12/03-01-06-01-02-01-12.wav", _ravdess),
    # level LO/MD/HI (IEO only) or XX; the release names one file 1040_ITH_SAD_X.wav
    "crema_d": NameRule(re.compile(rf"(\d{{4}})_({CREMA_D_SENTENCES})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX|X)"),
                        "1001_DFA_ANG_XX.wav", _crema_d),
    "emodb": NameRule(re.compile(r"(\d\d)([a-z]\d\d)([WLEAFTN])([a-z])"), "wav/03a01Fa.wav",
                      lambda m, p: Parsed(EMODB_EMOTIONS[m.group(3)], m.group(1))),
    "savee": NameRule(re.compile(r"(a|d|f|h|n|sa|su)(\d\d)"), "DC/sa01.wav", _savee),
    "cafe": NameRule(re.compile(r"(\d\d)-([CDJNPST])(?:-([12]))?-([1-6])"), "Colère/Faible/01-C-1-1.wav", _cafe),
    "emovo": NameRule(re.compile(r"(dis|gio|neu|pau|rab|sor|tri)-([fm][1-3])-([a-z]\d)"), "f1/dis-f1-b1.wav",
                      _emovo),
    "aesdd": NameRule(re.compile(r"([adfhs])(\d\d) ?\((\d+)\)([a-z]?)"), "anger/a01 (1).wav", _aesdd),
    "shemo": NameRule(re.compile(r"([FM])(\d\d)([AFHNSW])(\d{2,3})"), "female/F01A01.wav", _shemo),
    # SUBESCO's speaker is gender_number (F_01), not the first name SERAB's builder used: a number
    # cannot collide, and SERAB published no SUBESCO score whose split this would have to match.
    "subesco": NameRule(re.compile(r"([FM])_(\d\d)_([A-Za-z]+)_S_(\d{1,2})_(" + "|".join(SUBESCO_EMOTIONS)
                                   + r")_(\d{1,2})"), "F_01_OISHI_S_1_ANGRY_1.wav",
                        lambda m, p: Parsed(SUBESCO_EMOTIONS[m.group(5)], f"{m.group(1)}_{m.group(2)}")),
    "urdu": NameRule(re.compile(r"(S[MF]\d+)_([A-Z]+\d+)_([AHNS])(\d+)"), "Angry/SM1_F1_A01.wav", _urdu),
    "baved": NameRule(re.compile(r"(\d+)-([mfMF])-(\d+)-([0-6])-([0-2])-(\d+)"), "0/1-m-21-0-1-1.wav", _baved),
}
