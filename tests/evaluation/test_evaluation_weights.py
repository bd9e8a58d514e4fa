"""The demo's weights policy: official weights (override dir honoured), else a loud fallback."""
from __future__ import annotations

import shutil

import pytest
import torch

from evaluation.weights import DETERMINISTIC, demo_weights

DEFAULT_FILE = "default2048_BYOLAs64x96-2105311814-e100-bs256-lr0003-rs42.pth"
DEFAULT_SIZE = 21_297_232


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "1")
    monkeypatch.setenv("HEAR_BYOLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HEAR_BYOLS_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    return tmp_path


def test_weights_dir_override_is_used_and_said(offline, real_default512):
    shutil.copyfile(real_default512, offline / "weights" / real_default512.name)  # the one real file we have
    said = []
    weights = demo_weights("hear_byols.default512", offline / "fallback", said.append)
    assert weights.kind == "official" and weights.path == str(offline / "weights" / real_default512.name)
    assert "$HEAR_BYOLS_WEIGHTS_DIR" in said[0] and "is honoured" in said[0] and "found there" in said[0]


def test_a_right_size_but_corrupt_override_file_is_not_used(offline):
    with open(offline / "weights" / DEFAULT_FILE, "wb") as handle:  # right size, wrong bytes
        handle.truncate(DEFAULT_SIZE)
    said = []
    weights = demo_weights("hear_byols.default", offline / "fallback", said.append)
    assert weights.kind == DETERMINISTIC and "sha256: expected" in said[0] and "OFFICIAL WEIGHTS UNAVAILABLE" in said[0]


def test_offline_without_weights_falls_back_loudly(offline):
    said = []
    weights = demo_weights("hear_byols.default", offline / "fallback", said.append)
    assert weights.kind == DETERMINISTIC and weights.path == str(offline / "fallback" / "default.pth")
    assert "NOT found there" in said[0] and "DETERMINISTIC TEST WEIGHTS" in said[0] and "NOT meaningful" in said[0]
    assert "fc.0.weight" in torch.load(weights.path, weights_only=True)
