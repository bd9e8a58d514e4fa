"""hear_byols.distributed: the one Shard value, the one reading of the launchers' variables and
the one device choice for a local rank, as embed, evaluation and pretraining use them."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hear_byols.extract.shards import resolve_device
from hear_byols.distributed import Shard, cuda_device, launcher_shard, local_rank, parse_shard, slurm_array_shard
from hear_byols.errors import UsageError
from hear_byols.pretraining import launch
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining


def test_one_shard_value_with_its_names() -> None:
    shard = parse_shard("2/8")
    assert shard == Shard(2, 8) and str(shard) == shard.label == "2/8"
    assert shard.tag == "2-of-8" and shard.file_tag == ".shard-2-of-8" and Shard().file_tag == ""
    assert Shard() == Shard(0, 1) == parse_shard("0/1")
    for index, count in ((1, 1), (-1, 4), (0, 0)):
        with pytest.raises(UsageError, match="I/N"):
            Shard(index, count)


def test_launchers_give_the_same_shard_to_embed_and_evaluation() -> None:
    array = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "5"}
    assert launcher_shard(array) == slurm_array_shard(array) == Shard(2, 4)
    assert slurm_array_shard({}) is None and launcher_shard({}) == Shard()


@pytest.mark.parametrize("env, problem", [
    ({"RANK": "abc", "WORLD_SIZE": "2"}, "RANK='abc' is not an integer"),
    ({"RANK": "0", "WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
    ({"LOCAL_RANK": "x"}, "LOCAL_RANK='x' is not an integer"),
])
def test_non_integer_launcher_variables_are_usage_errors_in_pretraining(
    env: dict[str, str], problem: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=problem):
        launch.start("cpu")
    config = PretrainConfig(data=(str(tmp_path),), variant="default512", out=str(tmp_path / "run"), device="cpu")
    assert run_pretraining(config) == 2
    error = capsys.readouterr().err
    assert problem in error and "Traceback" not in error and not (tmp_path / "run").exists()


def test_a_non_integer_local_rank_is_a_usage_error_in_embed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(UsageError, match="LOCAL_RANK='x' is not an integer"):
        resolve_device(torch.device("cuda"), {"LOCAL_RANK": "x"})
    assert local_rank({}) is None and local_rank({"LOCAL_RANK": "3"}) == 3


def test_the_gpu_of_a_local_rank_is_checked_against_the_visible_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert cuda_device(1) == torch.device("cuda", 1)
    with pytest.raises(UsageError, match=r"cuda:2 \(from LOCAL_RANK=2\) does not exist.*nproc_per_node"):
        cuda_device(2, from_local_rank=True)
    with pytest.raises(UsageError, match="cuda:3 does not exist, only 2"):
        cuda_device(3)
