"""Each dataset's native layout: labels and speakers parsed by value, what is left out, what is refused."""
from __future__ import annotations

import os

import pytest

from hear_byols.errors import CorpusError, InvalidOptionError
from hear_byols.probe.datasets import DATASETS, read_dataset
from hear_byols.probe.datasets.files import METADATA_REASON
from helpers.probe_trees import touch_all

#: dataset -> (relative path, label, speaker) of files in its real naming, at least two by value.
CASES = {
    "ravdess": [("Actor_12/03-01-06-01-02-01-12.wav", "fear", "12"),
                ("Actor_01/03-01-01-01-01-01-01.wav", "neutral", "01"),
                ("Actor_24/03-01-08-02-02-02-24.wav", "surprise", "24")],
    "crema_d": [("1001_DFA_ANG_XX.wav", "anger", "1001"), ("1091_IEO_HAP_HI.wav", "happiness", "1091"),
                ("1040_ITS_NEU_XX.wav", "neutral", "1040")],
    "emodb": [("wav/03a01Fa.wav", "happiness", "03"), ("wav/16b10Wb.wav", "anger", "16"),
              ("wav/08a02Lc.wav", "boredom", "08")],
    "savee": [("DC/sa01.wav", "sadness", "DC"), ("KL/su15.wav", "surprise", "KL"), ("JE/a03.wav", "anger", "JE")],
    "cafe": [("Colère/Faible/01-C-1-1.wav", "anger", "01"), ("Neutre/12-N-6.wav", "neutral", "12"),
             ("Peur/Fort/07-P-2-3.aiff", "fear", "07")],
    "emovo": [("f1/dis-f1-b1.wav", "disgust", "f1"), ("m3/gio-m3-n5.wav", "happiness", "m3"),
              ("m1/pau-m1-l4.wav", "fear", "m1")],
    "aesdd": [("anger/a01 (1).wav", "anger", "1"), ("sadness/s20 (5).wav", "sadness", "5"),
              ("happiness/h05 (3)b.wav", "happiness", "3")],
    "shemo": [("female/F01A01.wav", "anger", "F01"), ("male/M12W07.wav", "surprise", "M12"),
              ("male/M01S23.wav", "sadness", "M01"), ("male/M05N102.wav", "neutral", "M05")],
    "subesco": [("F_01_OISHI_S_1_ANGRY_1.wav", "anger", "F_01"), ("M_10_TANVIR_S_10_SURPRISE_5.wav",
                                                                 "surprise", "M_10"),
                ("M_01_ASIF_S_7_NEUTRAL_3.wav", "neutral", "M_01")],
    "urdu": [("Angry/SM1_F1_A01.wav", "anger", "SM1"), ("Sad/SF11_F10_S12.wav", "sadness", "SF11"),
             ("Neutral/SM27_F3_N05.wav", "neutral", "SM27")],
    "baved": [("0/1-m-21-0-1-1.wav", "normal", "1"), ("6/61-f-35-6-2-3.wav", "high", "61"),
              ("3/7-m-40-3-0-2.wav", "low", "7")],
}

#: dataset -> a file in its layout that breaks its naming or contradicts its folder.
BROKEN = {
    "ravdess": "Actor_02/03-01-06-01-02-01-12.wav",  # actor 12 in Actor_02
    "crema_d": "1001_DFA_ANGRY_XX.wav",
    "emodb": "wav/03a01Xa.wav",  # no emotion X
    "savee": "dc/a01.wav",  # not a speaker's initials
    "cafe": "Neutre/01-N-1-1.wav",  # neutral has no intensity
    "emovo": "f2/dis-f1-b1.wav",
    "aesdd": "fear/a01 (1).wav",
    "shemo": "female/M01A01.wav",
    "subesco": "F_01_OISHI_S_1_BORED_1.wav",
    "urdu": "Happy/SM1_F1_A01.wav",
    "baved": "2/1-m-21-0-1-1.wav",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_labels_and_speakers_parsed_by_value(tmp_path, name):
    touch_all(tmp_path, [case[0] for case in CASES[name]])
    (tmp_path / "README.txt").touch()  # not audio: ignored
    corpus = read_dataset(name, tmp_path)
    found = {clip.path: (clip.label, clip.speaker, clip.dataset) for clip in corpus.clips}
    assert found == {(tmp_path / path).resolve(): (label, speaker, name) for path, label, speaker in CASES[name]}
    assert corpus.name == name and corpus.excluded == ()
    spec = DATASETS[name]
    assert (corpus.serab_key, corpus.serab_fractions) == (spec.serab_key, spec.serab_fractions)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_file_off_the_naming_is_an_error_naming_it(tmp_path, name):
    touch_all(tmp_path, [case[0] for case in CASES[name]] + [BROKEN[name]])
    with pytest.raises(CorpusError) as info:
        read_dataset(name, tmp_path)
    assert str((tmp_path / BROKEN[name]).resolve()) in str(info.value)


def test_ravdess_keeps_speech_and_counts_songs_and_metadata(tmp_path):
    touch_all(tmp_path, ["Actor_01/03-01-05-01-01-01-01.wav", "Actor_01/03-02-05-01-01-01-01.wav",
                         "Actor_01/._03-01-05-01-01-01-01.wav", "Actor_02/03-01-04-02-01-01-02.wav",
                         "Actor_02/03-01-04-02-01-01-02.mp4"])
    corpus = read_dataset("ravdess", tmp_path)
    assert sorted((clip.label, clip.speaker) for clip in corpus.clips) == [("anger", "01"), ("sadness", "02")]
    assert dict(corpus.excluded) == {"song (vocal channel 02): the speech subset only": 1, METADATA_REASON: 1}


def test_crema_d_leaves_out_the_four_files_serab_never_had(tmp_path):
    touch_all(tmp_path, ["1040_ITH_SAD_X.wav", "1006_TIE_NEU_XX.wav", "1013_WSI_DIS_XX.wav", "1017_IWW_FEA_XX.wav",
                         "1006_TIE_HAP_XX.wav", "1040_IEO_SAD_HI.wav", "1002_ITH_SAD_X.wav"])
    corpus = read_dataset("crema_d", tmp_path)
    assert sorted(clip.path.name for clip in corpus.clips) == ["1002_ITH_SAD_X.wav", "1006_TIE_HAP_XX.wav",
                                                               "1040_IEO_SAD_HI.wav"]
    assert sum(count for _, count in corpus.excluded) == 4


def test_ravdess_video_modality_is_not_its_audio_naming(tmp_path):
    touch_all(tmp_path, ["Actor_01/01-01-05-01-01-01-01.wav"])
    with pytest.raises(CorpusError, match="do not follow its naming"):
        read_dataset("ravdess", tmp_path)


def test_shemo_speaker_is_the_speaker_field_not_the_utterance_index(tmp_path):
    touch_all(tmp_path, ["female/F01A01.wav", "female/F02A01.wav", "male/M01A01.wav", "female/F01H02.wav"])
    corpus = read_dataset("shemo", tmp_path)
    assert sorted(corpus.speakers.tolist()) == ["F01", "F01", "F02", "M01"]  # SERAB's field: 01, 01, 01, 02
    assert not corpus.comparable_with_serab


def write_iemocap(root, sessions):
    """``sessions``: {session number: [(utterance id, label)]}, as IEMOCAP lays them out."""
    for number, utterances in sessions.items():
        session = root / f"Session{number}"
        by_dialog: dict[str, list[str]] = {}
        for utterance, label in utterances:
            dialog = utterance.rsplit("_", 1)[0]
            line = f"[6.2901 - 8.2357]\t{utterance}\t{label}\t[2.5000, 2.5000, 2.5000]"
            by_dialog.setdefault(dialog, []).append(line)
            touch_all(session / "sentences" / "wav" / dialog, [f"{utterance}.wav"])
        evaluation = session / "dialog" / "EmoEvaluation"
        evaluation.mkdir(parents=True)
        for dialog, lines in by_dialog.items():
            text = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + "\n".join(
                f"{line}\nC-E1:\tNeutral state;\t()\nA-E1:\tval 3;\tact 2;\tdom  2;\t()" for line in lines)
            (evaluation / f"{dialog}.txt").write_text(text + "\n", encoding="utf-8")
        (evaluation / "Categorical").mkdir()


def test_iemocap_four_classes_true_speaker(tmp_path):
    write_iemocap(tmp_path, {1: [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "exc"),
                                 ("Ses01F_impro01_M001", "fru"), ("Ses01M_script01_1_F012", "hap")],
                             2: [("Ses02M_impro03_M002", "ang"), ("Ses02M_impro03_F001", "sad"),
                                 ("Ses02M_impro03_F002", "xxx")]})
    corpus = read_dataset("iemocap", tmp_path)
    found = {clip.path.name: (clip.label, clip.speaker) for clip in corpus.clips}
    assert found == {"Ses01F_impro01_F000.wav": ("neutral", "Ses01F"),
                     "Ses01F_impro01_M000.wav": ("happiness", "Ses01M"),  # exc -> happiness; the male speaks
                     "Ses01M_script01_1_F012.wav": ("happiness", "Ses01F"),  # the female speaks in a Ses01M dialog
                     "Ses02M_impro03_M002.wav": ("anger", "Ses02M"),
                     "Ses02M_impro03_F001.wav": ("sadness", "Ses02F")}
    assert dict(corpus.excluded) == {"label 'fru': not one of the 4 classes": 1,
                                     "label 'xxx': not one of the 4 classes": 1}
    assert corpus.serab_key == "iem4" and not corpus.comparable_with_serab


def test_iemocap_refuses_an_annotated_utterance_without_audio(tmp_path):
    write_iemocap(tmp_path, {1: [("Ses01F_impro01_F000", "neu")]})
    (tmp_path / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav").unlink()
    with pytest.raises(CorpusError, match="1 annotated utterance.*Ses01F_impro01_F000.wav"):
        read_dataset("iemocap", tmp_path)


def test_iemocap_refuses_a_malformed_line_and_a_wrong_root(tmp_path):
    write_iemocap(tmp_path, {1: [("Ses01F_impro01_F000", "neu")]})
    (tmp_path / "Session1/dialog/EmoEvaluation/Ses01F_impro02.txt").write_text("[1.0 - 2.0] Ses01F_impro02_F000\n")
    with pytest.raises(CorpusError, match=r"Ses01F_impro02.txt, line 1: expected"):
        read_dataset("iemocap", tmp_path)
    with pytest.raises(CorpusError, match="no Session1..Session5 folder"):
        read_dataset("iemocap", tmp_path / "Session1")


def test_unknown_dataset_and_bad_roots(tmp_path):
    with pytest.raises(InvalidOptionError, match="unknown dataset 'ravdes'; known: ravdess, crema_d"):
        read_dataset("ravdes", tmp_path)
    with pytest.raises(CorpusError, match="no such folder"):
        read_dataset("emodb", tmp_path / "absent")
    (tmp_path / "file.wav").touch()
    with pytest.raises(CorpusError, match="is a file"):
        read_dataset("emodb", tmp_path / "file.wav")
    with pytest.raises(CorpusError, match=r"give the folder holding wav/ \(e.g. DIR/wav/03a01Fa.wav\)"):
        read_dataset("emodb", tmp_path)


def test_a_dataset_whose_every_file_is_left_out_is_refused(tmp_path):
    touch_all(tmp_path, ["Actor_01/03-02-05-01-01-01-01.wav"])
    with pytest.raises(CorpusError, match="every file .* was left out"):
        read_dataset("ravdess", tmp_path)


def test_registry_covers_the_issue_datasets():
    assert sorted(DATASETS) == sorted(["ravdess", "crema_d", "emodb", "savee", "cafe", "emovo", "aesdd",
                                       "iemocap", "shemo", "subesco", "urdu", "baved"])
    assert {name for name, spec in DATASETS.items() if spec.serab_key} == {
        "ravdess", "crema_d", "emodb", "savee", "cafe", "emovo", "aesdd", "iemocap", "shemo"}
    assert DATASETS["iemocap"].serab_key == "iem4"
    assert {name for name, spec in DATASETS.items() if spec.comparable_with_serab} == {
        "ravdess", "crema_d", "emodb", "savee", "cafe", "emovo", "aesdd"}
    assert all(spec.note for spec in DATASETS.values() if not spec.comparable_with_serab)


def test_a_symlinked_file_is_parsed_by_its_name_in_the_layout(tmp_path):
    [blob] = touch_all(tmp_path, ["store/blob-0001"])
    (tmp_path / "emovo" / "m2").mkdir(parents=True)
    (tmp_path / "emovo/m2/rab-m2-d1.wav").symlink_to(blob)
    [clip] = read_dataset("emovo", tmp_path / "emovo").clips
    assert (clip.label, clip.speaker, clip.path) == ("anger", "m2", blob.resolve())


def test_every_dataset_documents_its_naming_and_layout():
    for name, spec in DATASETS.items():
        assert spec.naming and spec.layout and spec.title, name
        assert (spec.rule is None) == (name == "iemocap")


def test_non_utf8_names_are_named_or_read(tmp_path):
    latin1 = os.fsdecode(b"caf\xe9")  # not UTF-8: a surrogate-escaped str
    touch_all(tmp_path / "cafe", [f"{latin1}/01-C-1-1.wav", "Neutre/02-N-3.wav"])
    corpus = read_dataset("cafe", tmp_path / "cafe")
    assert sorted(clip.speaker for clip in corpus.clips) == ["01", "02"]
    touch_all(tmp_path / "ravdess", ["Actor_01/03-01-05-01-01-01-01.wav", f"Actor_01/{latin1}.wav"])
    with pytest.raises(CorpusError, match=f"{latin1}.wav"):
        read_dataset("ravdess", tmp_path / "ravdess")
