"""``python -m evaluation run`` refuses malformed task folders and options before any heareval step."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.__main__ import main
from evaluation.tasks import metadata


def task_folder(root: Path, *, event: bool = False) -> Path:
    """A minimal valid HEAR task folder (its audio files are empty: the checks never read them)."""
    folder = root / "task"
    folder.mkdir(parents=True)
    meta = metadata("task", "event" if event else "scene", "multilabel" if event else "multiclass",
                    "trainvaltest", ["train", "valid", "test"], 1.0, ["top1_acc"])
    (folder / "task_metadata.json").write_text(json.dumps(meta))
    (folder / "labelvocabulary.csv").write_text("idx,label\n0,yes\n1,no\n")
    labels = [{"label": "yes", "start": 0.0, "end": 100.0}] if event else ["yes"]
    for split in ("train", "valid", "test"):
        (folder / f"{split}.json").write_text(json.dumps({"a.wav": labels}))
        (folder / "16000" / split).mkdir(parents=True)
        (folder / "16000" / split / "a.wav").touch()
    return folder


def run(tmp_path: Path, *extra: str) -> int:
    return main(["run", "--modules", "hear_byols.default", "--tasks-dir", str(tmp_path / "tasks"),
                 "--out", str(tmp_path / "out"), "--deterministic-weights", *extra])


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("task_metadata.json", "{not json", "task_metadata.json: not valid JSON"),
        ("task_metadata.json", "[1, 2]", "must hold a JSON object"),
        ("task_metadata.json", '{"task_name": "t"}', "'embedding_type' must be str, found 'nothing'"),
        ("labelvocabulary.csv", "label,idx\nyes,0\n", "the first line must be 'idx,label'"),
        ("labelvocabulary.csv", "idx,label\n1,yes\n", "indices 0, 1, 2"),
        ("valid.json", '["a.wav"]', "valid.json: must map each audio file name to its labels"),
        ("test.json", '{"a.wav": "yes"}', "test.json: 'a.wav': expected [label, ...]"),
        ("train.json", '{"a.wav": ["maybe"]}', "labels ['maybe'] not in labelvocabulary.csv"),
    ],
)
def test_malformed_task_folder_is_reported_before_any_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, content: str, message: str
) -> None:
    folder = task_folder(tmp_path / "tasks")
    (folder / file).write_text(content)
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"task folder task: {folder / file}" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "steps.jsonl").exists()  # no heareval step ran


def test_missing_split_file_and_event_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = task_folder(tmp_path / "tasks", event=True)
    (folder / "test.json").write_text(json.dumps({"a.wav": [{"label": "yes", "start": 0.0}]}))
    assert run(tmp_path) == 1
    assert "test.json: 'a.wav': expected [{\"label\": ..., \"start\": ms, \"end\": ms}, ...]" in capsys.readouterr().err
    (folder / "test.json").unlink()
    assert run(tmp_path) == 1
    assert "test.json: missing" in capsys.readouterr().err


def test_a_folder_without_16k_audio_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = task_folder(tmp_path / "tasks")
    (folder / "16000").rename(folder / "48000")
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{folder / '16000'}: missing" in err and "found 48000/" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "steps.jsonl").exists()


def test_the_audio_folder_checked_is_every_variants_sample_rate() -> None:
    from hear_byols.variants import variant_names, variant_spec

    from evaluation.task_check import AUDIO_RATE

    assert {variant_spec(name).frontend.sample_rate for name in variant_names()} == {AUDIO_RATE}


def test_a_split_naming_a_missing_audio_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = task_folder(tmp_path / "tasks")
    names = {f"clip{i}.wav": ["yes"] for i in range(5)}
    (folder / "valid.json").write_text(json.dumps(names))
    for name in list(names)[:3]:
        (folder / "16000" / "valid" / name).touch()
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'valid.json'}: 2 audio file(s) missing from {folder / '16000' / 'valid'}" in err, err
    assert "'clip3.wav', 'clip4.wav'" in err and "Traceback" not in err
    (folder / "16000" / "valid").rename(folder / "16000" / "elsewhere")
    assert run(tmp_path) == 1
    assert f"{folder / '16000' / 'valid'}: missing" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [("[1,2]", "is a JSON list; pass an object"), ("{nope", "is not JSON")])
def test_model_options_must_be_a_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        run(tmp_path, "--model-options", options)
    assert info.value.code == 2 and message in capsys.readouterr().err


# --- --modules and --model-options: what heareval would hand to load_model ---------------------

@pytest.fixture
def steps_started(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Stand in for the runner: a run that gets this far would start heareval steps."""
    calls: list[tuple] = []
    monkeypatch.setattr("evaluation.engine.run", lambda harness, *args, **kwargs: calls.append(args))
    return calls


@pytest.mark.parametrize(
    "modules, options, named",
    [
        (["hear_byols.default512"], '{"layer": "nope"}', ["layer='nope'", "'conv1'", "'fc2'"]),
        (["hear_byols.default512"], '{"normalisation": "per_clip"}', ["'normalisation'", "normalization", "precision"]),
        (["hear_byols.default512"], '{"precision": "fp8"}', ["precision='fp8'", "'bf16'"]),
        (["hear_byols.default512"], '{"normalization": "per-clip"}', ["normalization='per-clip'", "'per_clip'"]),
        (["hear_byols.default512"], '{"timestamp_mode": "fast"}', ["timestamp_mode='fast'", "'sliding'"]),
        (["hear_byols.default512"], '{"variant": "cvt"}', ["'variant'", "normalization"]),
        (["hear_byols.default512"], '{"precision": ["bf16"]}', ["precision=['bf16']", "'bf16'"]),
        (["hear_byols.default512"], '{"timestamp_mode": {}}', ["timestamp_mode={}", "'exact'"]),
        (["hear_byols.default512", "hear_byols.nosuch"], "{}", ["hear_byols.nosuch", "hear_byols.default512"]),
        (["nosuch_hear_module"], "{}", ["nosuch_hear_module", "cannot be imported"]),
        (["json"], "{}", ["json", "no load_model"]),
    ],
)
def test_bad_modules_or_model_options_are_usage_errors_before_any_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps_started: list, modules: list[str], options: str,
    named: list[str],
) -> None:
    task_folder(tmp_path / "tasks")
    status = main(["run", "--modules", *modules, "--tasks-dir", str(tmp_path / "tasks"), "--out", str(tmp_path / "out"),
                   "--deterministic-weights", "--model-options", options])
    err = capsys.readouterr().err
    assert status == 2, err
    assert all(text in err for text in named), err
    assert "Traceback" not in err and steps_started == []
    assert not (tmp_path / "out").exists()  # not even the test weights were written


def test_valid_model_options_reach_the_run(tmp_path: Path, steps_started: list) -> None:
    task_folder(tmp_path / "tasks")
    options = '{"layer": "conv2", "precision": "bf16", "normalization": [0.5, 2.0], "timestamp_mode": "sliding"}'
    assert run(tmp_path, "--model-options", options) == 0
    assert len(steps_started) == 1 and steps_started[0][0].model_options["layer"] == "conv2"


def test_another_packages_module_is_checked_against_its_load_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], steps_started: list
) -> None:
    (tmp_path / "other_hear_module.py").write_text('def load_model(model_file_path="", *, flavour="a"):\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    task_folder(tmp_path / "tasks")
    arguments = ["run", "--modules", "other_hear_module", "--tasks-dir", str(tmp_path / "tasks"), "--out", str(tmp_path / "out")]
    assert main([*arguments, "--model-options", '{"flavor": "b"}']) == 2
    assert "other_hear_module.load_model got an unexpected keyword argument 'flavor'" in capsys.readouterr().err
    assert steps_started == []
    assert main([*arguments, "--model-options", '{"flavour": "b"}']) == 0 and len(steps_started) == 1


def test_options_are_checked_without_looking_for_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the harness relies on: no weights are resolved (downloaded) to check options, and
    load_model itself refuses a bad option before looking for weights."""
    import hear_byols.api
    from hear_byols.errors import InvalidOptionError

    def no_weights(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights were looked for")

    monkeypatch.setattr(hear_byols.api, "resolve_weights", no_weights)
    hear_byols.api.check_load_options("cvt", {"layer": "stage2", "normalization": "per_clip", "precision": "fp16"})
    with pytest.raises(InvalidOptionError, match="normalization='batch'"):
        hear_byols.api.check_load_options("cvt", {"normalization": "batch"})
    with pytest.raises(InvalidOptionError, match="normalization='batch'"):
        hear_byols.api.load_model(variant="cvt", normalization="batch")
