"""The pretraining options: one table of defaults, range checks on both command lines and on a
config built in Python, and the objectives' registry."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.objectives import OBJECTIVES, chosen_objective, logged_losses, objective_class
from hear_byols.pretraining.objectives.hybrid import FEATURE_SETS
from hear_byols.pretraining.options import PretrainConfig, build_parser

BASE = {"data": ("corpus",), "variant": "default512", "out": "run"}
#: Every flag the two command lines had before the options became one table.
FLAGS = ("--variant", "--out", "--epochs", "--max-steps", "--max-time", "--batch-size", "--accumulate", "--lr", "--tau",
         "--hybrid", "--hybrid-weight", "--byol-weight", "--crop", "--norm", "--norm-sample", "--workers",
         "--precision", "--sync-bn", "--device", "--seed", "--resume", "--overwrite", "--init", "--save-every",
         "--quiet")


@pytest.mark.parametrize("field, value, flag", [
    ("save_every", 0, "--save-every"), ("accumulate", 0, "--accumulate"), ("workers", -1, "--workers"),
    ("epochs", 0, "--epochs"), ("max_steps", -3, "--max-steps"), ("batch_size", 1, "--batch-size"),
    ("norm_sample", 0, "--norm-sample"), ("seed", -1, "--seed"), ("lr", float("nan"), "--lr"),
    ("max_time", 0.0, "--max-time"), ("tau", 1.5, "--tau"), ("hybrid_weight", float("inf"), "--hybrid-weight"),
    ("epochs", 2.5, "--epochs"), ("crop", "middle", "--crop"), ("variant", "cvt2", "--variant"),
    ("hybrid", "mfcc", "--hybrid"), ("precision", "fp16", "--precision"),
])
def test_a_config_built_in_python_is_range_checked(field: str, value: object, flag: str) -> None:
    with pytest.raises(InvalidOptionError, match=f"^{flag} "):
        PretrainConfig(**{**BASE, field: value})


def test_a_valid_config_keeps_its_values() -> None:
    cfg = PretrainConfig(**BASE, max_time=3600, lr=1e8, tau=1.0, workers=0, hybrid="egemaps", max_steps=1)
    assert (cfg.max_time, cfg.lr, cfg.tau, cfg.workers, cfg.hybrid) == (3600, 1e8, 1.0, 0, "egemaps")


def test_every_flag_takes_its_default_from_the_config_field() -> None:
    parser = build_parser()
    args = parser.parse_args(["corpus", "--variant", "default512", "--out", "run"])
    for field in dataclasses.fields(PretrainConfig):
        if field.default is not dataclasses.MISSING:
            assert getattr(args, field.name) == field.default, field.name
    declared = {option for action in parser._actions for option in action.option_strings}
    assert set(FLAGS) <= declared


@pytest.mark.parametrize("option", [["--save-every", "0"], ["--accumulate", "0"], ["--workers", "-1"]])
def test_python_m_pretraining_refuses_bad_counts_with_exit_2(option: list[str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "hear_byols.pretraining", str(tmp_path), "--variant", "default512",
                           "--out", str(out), *option], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert option[0] in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_the_registry_names_its_objectives() -> None:
    assert objective_class("hybrid") is OBJECTIVES["hybrid"]
    with pytest.raises(UsageError, match="unknown pretraining objective 'distill': known are byol, hybrid"):
        objective_class("distill")
    assert chosen_objective(PretrainConfig(**BASE)).name == "byol"
    assert chosen_objective(PretrainConfig(**BASE, hybrid="compare2016")).name == "hybrid"
    assert all(cls.loss_names[0] == "loss" for cls in OBJECTIVES.values())
    assert logged_losses() == ("loss", "byol_loss", "hybrid_loss")  # metrics.csv's columns, as before


def test_hybrid_choices_are_its_feature_sets() -> None:
    hybrid = next(a for a in build_parser()._actions if "--hybrid" in a.option_strings)
    assert tuple(hybrid.choices) == tuple(FEATURE_SETS)


def test_step_totals_are_summed_by_name() -> None:
    from hear_byols.pretraining.loop import summed

    alone = Distributed(0, 1, 0, torch.device("cpu"))
    values = {"loss": 1.5, "byol_loss": 1.25, "samples": 4.0, "SIGTERM": 0.0}
    assert summed(alone, values) == values
