"""``hear-byols stats`` and ``--normalization stats.json``: shards and merge, failures and exit
statuses, bad statistics files, the frontend check, and a write that fails leaving nothing."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from helpers.audio import tone, write_audio
from hear_byols.audio.inputs import InputFile
from hear_byols.cli import main
from hear_byols.distributed import Shard
from hear_byols.extract.shards import owns
from hear_byols.errors import InvalidOptionError
from hear_byols.logmel.normalization import parse_normalization
from hear_byols.logmel.stats_file import load_stats
from hear_byols.variants import variant_spec


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """Four tones, two owned by each shard of 2."""
    folder = tmp_path / "data"
    names = [f"c{i}.wav" for i in range(40)]
    chosen = [[n for n in names if owns(InputFile(Path(n), Path(n)), Shard(k, 2))][:2] for k in range(2)]
    for i, name in enumerate(chosen[0] + chosen[1]):
        write_audio(folder / name, tone(16000, 0.5 + 0.25 * i, freq=200.0 + 90 * i), 16000, "PCM_16")
    return folder


def _stats(tmp_path: Path, data: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "stats.json"
    return main(["stats", str(data), "--out", str(out), *extra]), out


def test_measure_then_embed_with_the_file(tmp_path: Path, data: Path, capsys) -> None:
    rc, out = _stats(tmp_path, data)
    assert rc == 0 and "4 clips" in capsys.readouterr().err
    stats = load_stats(out, frontend=variant_spec("default512").frontend)
    norm = parse_normalization(str(out))
    assert [norm.mean, norm.std] == stats.normalization() and norm.sha256 and norm.statistic == "serab"
    assert main(["embed", str(data), "--model", "default512", "--out", str(tmp_path / "emb"),
                 "--normalization", str(out), "--quiet"]) == 0
    run = json.loads((tmp_path / "emb" / "index.json").read_text())["runs"][0]
    assert run["settings"]["normalization"] == stats.normalization()
    assert run["normalization_file"]["sha256"] == norm.sha256


def test_shards_merge_by_themselves_and_by_hand(tmp_path: Path, data: Path, capsys) -> None:
    _, whole = _stats(tmp_path / "whole", data)
    out = tmp_path / "sharded.json"
    assert main(["stats", str(data), "--out", str(out), "--shard", "1/2"]) == 0
    assert not out.exists() and "waiting for the other shards" in capsys.readouterr().err
    assert main(["stats", "--merge", str(out)]) == 2  # part 0 missing: named
    assert "sharded.json.part-0-of-2.json" in capsys.readouterr().err
    assert main(["stats", str(data), "--out", str(out), "--shard", "0/2"]) == 0
    merged, expected = json.loads(out.read_text()), json.loads(whole.read_text())
    for name in ("serab", "pooled"):
        assert merged["statistics"][name] == pytest.approx(expected["statistics"][name], rel=1e-12, abs=0)
    assert (merged["counts"], merged["corpus_sha256"]) == (expected["counts"], expected["corpus_sha256"])
    out.unlink()
    assert main(["stats", "--merge", str(out)]) == 0 and out.is_file()


def test_merge_refuses_mixed_shard_counts_and_frontends(tmp_path: Path, data: Path, capsys) -> None:
    out = tmp_path / "s.json"
    for shard in ("0/2", "1/2", "0/3"):
        assert main(["stats", str(data), "--out", str(out), "--shard", shard]) == 0
    capsys.readouterr()
    assert main(["stats", "--merge", str(out)]) == 2
    assert "different shard counts" in capsys.readouterr().err
    (tmp_path / "s.json.part-0-of-3.json").unlink()
    part = tmp_path / "s.json.part-1-of-2.json"
    content = json.loads(part.read_text())
    content["frontend"]["hop_length"] = 320
    part.write_text(json.dumps(content))
    assert main(["stats", "--merge", str(out)]) == 2
    assert "hop_length: 320 vs 160" in capsys.readouterr().err


def test_failed_files_are_listed_counted_and_exit_1(tmp_path: Path, data: Path, capsys) -> None:
    (data / "broken.wav").write_bytes(b"RIFF....not audio")
    write_audio(data / "silent.wav", np.zeros(8000), 16000, "PCM_16")
    rc, out = _stats(tmp_path, data)
    err = capsys.readouterr().err
    assert rc == 1 and "FAILED" in err and "broken.wav" in err and "silent.wav" in err
    written = json.loads(out.read_text())
    assert written["counts"] == written["counts"] | {"clips": 4, "silent_clips": 1, "failed_files": 1}
    assert written["failed"][0]["input"].endswith("broken.wav")


@pytest.mark.parametrize("argv, message", [
    (["--workers", "-1"], "--workers"),
    (["--merge", "x.json"], "no DATA"),
])
def test_usage_errors_exit_2(tmp_path: Path, data: Path, argv: list[str], message: str | None, capsys) -> None:
    assert main(["stats", str(data), "--out", str(tmp_path / "s.json"), *argv]) == 2
    assert not (tmp_path / "s.json").exists()
    if message:
        assert message in capsys.readouterr().err


def test_out_that_is_a_directory_or_missing_data_exit_2(tmp_path: Path, data: Path, capsys) -> None:
    assert main(["stats", str(data), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["stats", "--out", str(tmp_path / "s.json")]) == 2
    assert main(["stats", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "s.json")]) == 2


def test_a_full_disk_leaves_no_file(tmp_path: Path, data: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "s.json"
    import hear_byols.logmel.stats_file as stats_file

    def full(path, write, **_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(stats_file, "atomic_write", full)
    assert main(["stats", str(data), "--out", str(out)]) == 1
    assert "No space left" in capsys.readouterr().err
    assert list(tmp_path.glob("s.json*")) == [] and list(tmp_path.glob(".s.json*")) == []


def _written(tmp_path: Path, data: Path) -> Path:
    assert _stats(tmp_path, data)[0] == 0
    return tmp_path / "stats.json"


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw["statistics"]["serab"].update(std=0.0), "std > 0"),
    (lambda raw: raw["statistics"]["pooled"].update(std=-1.0), "std > 0"),
    (lambda raw: raw["statistics"]["serab"].update(mean=float("nan")), "finite"),
    (lambda raw: raw["counts"].update(clips=0), "counts.clips"),
    (lambda raw: raw.update(version=99), "version 99"),
    (lambda raw: raw.pop("frontend"), "missing frontend"),
    (lambda raw: raw.update(normalization=[0.0, 1.0]), "edited by hand"),
    (lambda raw: raw["accumulator"].update(clips=1), "accumulator's counts"),
])
def test_bad_statistics_files_are_refused(tmp_path: Path, data: Path, edit, message: str) -> None:
    path = _written(tmp_path, data)
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))
    with pytest.raises(InvalidOptionError, match=message):
        parse_normalization(str(path))


def test_truncated_missing_and_foreign_files_are_refused(tmp_path: Path, data: Path, capsys) -> None:
    path = _written(tmp_path, data)
    path.write_text(path.read_text()[:200])
    with pytest.raises(InvalidOptionError, match="truncated"):
        parse_normalization(path)
    with pytest.raises(InvalidOptionError, match="does not exist"):
        parse_normalization(tmp_path / "missing.json")
    assert main(["embed", str(data), "--model", "default512", "--out", str(tmp_path / "e"),
                 "--normalization", str(path)]) == 2
    assert "truncated" in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_a_file_of_another_frontend_is_refused_by_load_model(tmp_path: Path, data: Path) -> None:
    path = _written(tmp_path, data)
    raw = json.loads(path.read_text())
    raw["frontend"]["n_mels"] = 80
    path.write_text(json.dumps(raw))
    import hear_byols.default512 as default512

    with pytest.raises(InvalidOptionError, match=r"hear_byols.default512.*n_mels: 80 vs 64"):
        default512.load_model(normalization=str(path))
    parse_normalization(str(path))  # without a model, no frontend to compare with


@pytest.mark.parametrize("value", [[1.0, 0.0], [1.0, float("nan")], ["a", 1.0]])
def test_mean_std_pairs_still_checked(value: list) -> None:
    with pytest.raises(InvalidOptionError, match="stats.json|std > 0"):
        parse_normalization(value)


def test_an_edited_part_is_refused_by_the_merge(tmp_path: Path, data: Path, capsys) -> None:
    out = tmp_path / "s.json"
    for shard in ("0/2", "1/2"):
        assert main(["stats", str(data), "--out", str(out), "--shard", shard]) == 0
    part = tmp_path / "s.json.part-0-of-2.json"
    raw = json.loads(part.read_text())
    raw["accumulator"]["sum_means"] += 1.0
    part.write_text(json.dumps(raw))
    capsys.readouterr()
    assert main(["stats", "--merge", str(out)]) == 2
    assert "s.json.part-0-of-2.json" in capsys.readouterr().err


def test_a_part_is_not_a_normalization_and_stale_parts_are_refused(tmp_path: Path, data: Path, capsys) -> None:
    out = tmp_path / "s.json"
    assert main(["stats", str(data), "--out", str(out), "--shard", "0/2"]) == 0
    with pytest.raises(InvalidOptionError, match="merge the parts"):
        parse_normalization(tmp_path / "s.json.part-0-of-2.json")
    write_audio(data / "added-later.wav", tone(16000, 1.0, freq=300.0), 16000, "PCM_16")
    capsys.readouterr()
    assert main(["stats", str(data), "--out", str(out), "--shard", "1/2"]) == 1  # its part is written
    assert "listed different files" in capsys.readouterr().err and not out.exists()
    assert main(["stats", "--merge", str(out)]) == 2


def test_the_file_round_trips(tmp_path: Path, data: Path) -> None:
    from hear_byols.stats import measure

    stats = measure([data])
    stats.write(tmp_path / "s.json")
    again = load_stats(tmp_path / "s.json")
    assert again == stats and again.accumulator == stats.accumulator
    assert again.normalization("pooled") == list(stats.pooled)
    with pytest.raises(InvalidOptionError, match="choose one of"):
        again.normalization("median")
