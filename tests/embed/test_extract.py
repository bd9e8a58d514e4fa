"""``hear_byols.extract.embed_files``: from Python, exactly what ``hear-byols embed`` does."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from helpers.audio import tone, write_audio
from hear_byols.api import load_model
from hear_byols.cli import main
from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.extract import Shard, Summary, embed_files, merge_index_now, verify_embeddings

MODEL = "default"  # the cheapest variant to run


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two clips in a tree and one file that is not audio."""
    write_audio(tmp_path / "in" / "a.wav", tone(16000, 1.0), 16000, "PCM_16")
    write_audio(tmp_path / "in" / "sub" / "b.flac", tone(22050, 1.5, channels=2), 22050, "PCM_16")
    (tmp_path / "in" / "notes.wav").write_text("not audio\n")
    return tmp_path / "in"


def outputs(out: Path) -> dict[str, bytes]:
    """Every output file but the journal (it records the outputs' mtimes)."""
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*"))
            if path.is_file() and "journal" not in path.name}


@pytest.mark.parametrize("timestamps", [False, True])
def test_embed_files_writes_what_the_cli_writes(corpus: Path, tmp_path: Path, checkpoint_path, timestamps: bool) -> None:
    weights = checkpoint_path(MODEL)
    flags = ["--timestamps", "--hop", "250"] if timestamps else []
    status = main(["embed", str(corpus), "--model", MODEL, "--weights", str(weights), "--out", str(tmp_path / "cli"), *flags])
    summary = embed_files(corpus, MODEL, tmp_path / "py", weights=weights, timestamps=timestamps, hop_ms=250)
    assert status == 1 and not summary.ok  # notes.wav fails in both
    cli, python = outputs(tmp_path / "cli"), outputs(tmp_path / "py")
    assert sorted(cli) == sorted(python) and "sub/b.flac.npy" in python and "index.json" in python
    assert cli == python  # the same bytes: embeddings and index.json alike
    assert (summary.written, summary.skipped, summary.failed, summary.files) == (2, 0, 1, 3)
    assert summary.index == tmp_path / "py" / "index.json" and summary.audio_seconds == pytest.approx(2.5)
    assert [Path(record.input).name for record in summary.failures] == ["notes.wav"]


def test_a_rerun_skips_and_a_loaded_model_gives_the_same_numbers(corpus: Path, tmp_path: Path, checkpoint_path) -> None:
    weights = checkpoint_path(MODEL)
    first = embed_files([corpus / "a.wav", str(corpus / "sub")], MODEL, tmp_path / "out", weights=weights)
    again = embed_files([corpus / "a.wav", str(corpus / "sub")], MODEL, tmp_path / "out", weights=weights)
    assert (first.written, again.written, again.skipped, again.ok) == (2, 0, 2, True)
    loaded = embed_files(corpus / "a.wav", load_model(str(weights), variant=MODEL), tmp_path / "loaded", batch_size=2)
    assert isinstance(loaded, Summary) and loaded.written == 1
    assert (tmp_path / "loaded" / "a.wav.npy").read_bytes() == (tmp_path / "out" / "a.wav.npy").read_bytes()
    assert verify_embeddings(str(tmp_path / "out")).problems == []
    assert merge_index_now(tmp_path / "out") == tmp_path / "out" / "index.json"


def test_shards_from_python_cover_the_corpus_once(corpus: Path, tmp_path: Path, checkpoint_path) -> None:
    weights = checkpoint_path(MODEL)
    parts = [embed_files(corpus, MODEL, tmp_path / "out", weights=weights, shard=shard) for shard in ("0/2", Shard(1, 2))]
    assert sum(part.files for part in parts) == 3
    assert len(json.loads((tmp_path / "out" / "index.json").read_text())["files"]) == 3


def test_the_summary_is_logged_not_printed(corpus: Path, tmp_path: Path, checkpoint_path, capsys, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="hear_byols.extract"):
        embed_files(corpus / "a.wav", MODEL, tmp_path / "out", weights=checkpoint_path(MODEL), quiet=True)
    assert capsys.readouterr().err == ""
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["hear-byols embed"] * 2


@pytest.mark.parametrize(("call", "error"), [
    (dict(inputs="nowhere/*.wav"), UsageError),
    (dict(batch_size=0), InvalidOptionError),
    (dict(workers=-1), InvalidOptionError),
    (dict(hop_ms=float("nan")), InvalidOptionError),
    (dict(device="tpu"), InvalidOptionError),
    (dict(shard="2/2"), UsageError),
    (dict(timestamp_mode="fast"), InvalidOptionError),
    (dict(normalization="bogus"), InvalidOptionError),
    (dict(normalization=[0.0, -1.0]), InvalidOptionError),
    (dict(layer="nope"), InvalidOptionError),
    (dict(model="nope"), InvalidOptionError),
])
def test_bad_arguments_raise_before_any_work(corpus: Path, tmp_path: Path, call: dict, error: type) -> None:
    arguments = {"inputs": corpus, "model": MODEL, "out": tmp_path / "out", **call}
    with pytest.raises(error):
        embed_files(**arguments)
    assert not (tmp_path / "out").exists()


def test_a_loaded_model_refuses_load_options(corpus: Path, tmp_path: Path, checkpoint_path) -> None:
    model = load_model(str(checkpoint_path(MODEL)), variant=MODEL)
    with pytest.raises(InvalidOptionError, match="normalization"):
        embed_files(corpus, model, tmp_path / "out", normalization="per_clip")
