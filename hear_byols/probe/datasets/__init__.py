"""Public speech-emotion datasets in their native layouts, by name: ``read_dataset("ravdess", DIR)``.

Labels and speakers come from file names and folders as each dataset documents them (``naming``;
IEMOCAP from its evaluation files, ``iemocap``); no audio is read. A file of the dataset's audio
type that does not follow its naming is an error naming the file: a foreign file in a dataset folder
would otherwise be scored under a guessed label. What a dataset's subset leaves out on purpose
(RAVDESS songs, IEMOCAP's other labels) and hidden/macOS metadata files are counted in
``Corpus.excluded``. Label names follow SERAB's (anger, happiness, ...).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hear_byols.errors import CorpusError, InvalidOptionError
from hear_byols.probe.corpus import Clip, Corpus, listing
from hear_byols.probe.datasets.files import METADATA_REASON, check_root, list_files
from hear_byols.probe.datasets.iemocap import read_iemocap
from hear_byols.probe.datasets.naming import RULES, NameRule


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: where its files are below the root, and how SERAB treated it."""

    name: str
    title: str
    layout: str                              # what DIR must be, for help and errors
    folders: tuple[str, ...] | None = ()     # folder patterns below DIR (None: any depth)
    suffixes: tuple[str, ...] = (".wav",)
    serab_key: str | None = None
    serab_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    comparable_with_serab: bool = True
    note: str = ""                           # why the scores do not compare with SERAB's

    @property
    def naming(self) -> str:
        """The documented naming we parse, in one line."""
        return NAMING[self.name]

    @property
    def rule(self) -> NameRule | None:
        return RULES.get(self.name)


#: One line per dataset: the documented naming we parse (for docs/PROBE.md and help texts).
#: Indented lines continue the line above.
NAMING_TEXT = """
ravdess: Actor_NN/03-CC-EE-II-SS-RR-NN.wav: modality 03 audio-only; channel 01 speech (02 song: left out);
    emotion 01 neutral 02 calm 03 happy 04 sad 05 angry 06 fearful 07 disgust 08 surprised; intensity,
    statement, repetition; speaker = actor NN (the Actor_NN folder must agree)
crema_d: AAAA_SSS_EEE_LL.wav: actor 1001-1091 = speaker; sentence one of 12 codes (IEO, TIE, ...); emotion ANG
    DIS FEA HAP NEU SAD; level LO MD HI (IEO only) or XX (one file: 1040_ITH_SAD_X.wav); left out as SERAB never
    had them (TFDS did not fetch them): 1040_ITH_SAD_X, 1006_TIE_NEU_XX, 1013_WSI_DIS_XX, 1017_IWW_FEA_XX
emodb: wav/SSTTTEV.wav: speaker SS (03, 08-16); text TTT (a01 ... b10); emotion E: W anger, L boredom, E
    disgust, A fear, F happiness, T sadness, N neutral; version V
savee: SP/EENN.wav: speaker = folder SP (DC, JE, JK, KL); emotion prefix a anger, d disgust, f fear, h
    happiness, n neutral, sa sadness, su surprise; sentence NN
cafe: EMOTION/INTENSITY/AA-E-I-S.wav, neutral Neutre/AA-N-S.wav: actor AA 01-12 = speaker; E: C anger, D
    disgust, J happiness, N neutral, P fear, S surprise, T sadness; I 1 Faible, 2 Fort; sentence S 1-6; .wav (48
    kHz release) or .aiff (192 kHz release)
emovo: SP/EEE-SP-TT.wav: speaker SP (f1-f3, m1-m3; the folder must agree); EEE: dis disgust, gio happiness, neu
    neutral, pau fear, rab anger, sor surprise, tri sadness; sentence TT
aesdd: EMOTION/ENN (S).wav: E a anger, d disgust, f fear, h happiness, s sadness (the folder must agree);
    utterance NN; speaker S in parentheses, unpadded as SERAB kept it
iemocap: SessionN/dialog/EmoEvaluation/DIALOG.txt lines '[t0 - t1] UTT LABEL [V, A, D]', audio
    SessionN/sentences/wav/DIALOG/UTT.wav; UTT = SesNNG_DIALOG_GNNN; speaker = SesNN + the LAST G (who speaks);
    ang, hap+exc, sad, neu kept
shemo: female|male/GNNENN.wav: gender G F/M (the folder must agree); speaker number NN; E: A anger, F fear, H
    happiness, N neutral, S sadness, W surprise; utterance NN; speaker = GNN (SERAB took the utterance NN)
subesco: G_NN_NAME_S_K_EMOTION_R.wav: gender G F/M, speaker number NN, first name; sentence K 1-10; EMOTION
    ANGRY DISGUST FEAR HAPPY NEUTRAL SAD SURPRISE; take R; speaker = G_NN
urdu: EMOTION/SPEAKER_FNN_ENN.wav: folders Angry, Happy, Neutral, Sad; speaker SM1-SM27, SF1-SF11; emotion
    letter A H N S (the folder must agree)
baved: W/ID-G-AGE-W-L-R.wav: word W 0-6 (the folder must agree); speaker ID; gender m/f; age; emotion level L 0
    low, 1 normal, 2 high; record R
"""


def _naming(text: str) -> dict[str, str]:
    """``name: fact`` lines, indented lines continuing the one above, as a dict."""
    entries: dict[str, str] = {}
    name = ""
    for line in text.strip().splitlines():
        if line.startswith(" "):
            entries[name] += " " + line.strip()
        else:
            name, fact = line.split(": ", 1)
            entries[name] = fact
    return entries


NAMING = _naming(NAMING_TEXT)

NOT_IN_SERAB = "SERAB published no score for it"
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("ravdess", "RAVDESS (speech)", "the folder holding Actor_01 ... Actor_24", ("Actor_??",),
                serab_key="ravdess"),
    DatasetSpec("crema_d", "CREMA-D", "the AudioWAV folder", (), serab_key="crema_d",
                serab_fractions=(0.7, 0.1, 0.2)),
    DatasetSpec("emodb", "EmoDB", "the folder holding wav/", ("wav",), serab_key="emodb"),
    DatasetSpec("savee", "SAVEE", "the AudioData folder (DC, JE, JK, KL)", ("*",), serab_key="savee"),
    DatasetSpec("cafe", "CaFE", "the CaFE folder (Colère/Faible, ..., Neutre)", None, (".wav", ".aiff", ".aif"),
                serab_key="cafe"),
    DatasetSpec("emovo", "EMOVO", "the folder holding f1 f2 f3 m1 m2 m3", ("*",), serab_key="emovo"),
    DatasetSpec("aesdd", "AESDD", "the folder holding anger disgust fear happiness sadness", ("*",),
                serab_key="aesdd"),
    DatasetSpec("iemocap", "IEMOCAP (4 classes)", "the IEMOCAP_full_release folder", serab_key="iem4",
                comparable_with_serab=False,
                note="SERAB grouped by session x marker gender, so its test shared actors with train"),
    DatasetSpec("shemo", "ShEMO", "the folder holding female/ and male/", ("*",), serab_key="shemo",
                comparable_with_serab=False, note="SERAB's speaker field was the utterance index"),
    DatasetSpec("subesco", "SUBESCO", "the SUBESCO folder of .wav files", (), comparable_with_serab=False,
                note=NOT_IN_SERAB),
    DatasetSpec("urdu", "URDU", "the folder holding Angry Happy Neutral Sad", ("*",), comparable_with_serab=False,
                note=NOT_IN_SERAB),
    DatasetSpec("baved", "BAVED", "the folder holding 0 ... 6", ("*",), comparable_with_serab=False,
                note=NOT_IN_SERAB),
)}


def read_dataset(name: str, root: Path) -> Corpus:
    """The dataset ``name`` (a key of ``DATASETS``) found at ``root``, as a corpus."""
    spec = DATASETS.get(name)
    if spec is None:
        raise InvalidOptionError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    root = check_root(root, spec.title)
    if spec.name == "iemocap":
        clips, excluded = read_iemocap(root, spec.name)
    else:
        clips, excluded = _read_named(spec, root)
    return Corpus(name=spec.name, clips=tuple(clips), serab_key=spec.serab_key,
                  serab_fractions=spec.serab_fractions, comparable_with_serab=spec.comparable_with_serab,
                  excluded=tuple(sorted(excluded.items())))


def _read_named(spec: DatasetSpec, root: Path) -> tuple[list[Clip], Counter]:
    files, hidden = list_files(root, spec.folders, spec.suffixes)
    excluded: Counter = Counter({METADATA_REASON: hidden} if hidden else {})
    if not files:
        raise CorpusError(f"{spec.title}: no {'/'.join(spec.suffixes)} file in its layout under {root}; "
                          f"give {spec.layout} (e.g. DIR/{spec.rule.example})")
    stray = [str(path) for path in files if spec.rule.pattern.fullmatch(path.stem) is None]
    if stray:
        raise CorpusError(f"{spec.title}: {len(stray)} file(s) do not follow its naming (e.g. "
                          f"{spec.rule.example}): {listing(stray)}; move them out of {root}")
    clips = []
    for path in files:
        parsed = spec.rule.parse(spec.rule.pattern.fullmatch(path.stem), path)
        if parsed.label is None:
            excluded[parsed.excluded] += 1
        else:
            clips.append(Clip(path=path.resolve(), label=parsed.label, speaker=parsed.speaker, dataset=spec.name))
    if not clips:
        raise CorpusError(f"{spec.title}: every file under {root} was left out ({dict(excluded)})")
    return clips, excluded
