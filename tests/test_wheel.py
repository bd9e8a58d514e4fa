"""A regular (non-editable) wheel install carries the configs and the weights registry."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_built_wheel_contains_package_data_and_works(tmp_path, checkpoint_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("hear_byols-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in ["hear_byols/configs/cvt.yaml", "hear_byols/configs/byola.yaml", "hear_byols/checkpoints/registry.yaml"]:
        assert required in names
    assert not any(name.endswith((".pth", ".pt", ".ckpt")) for name in names)
    # install into a target dir and import it from there, away from the source tree
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]); import hear_byols, hear_byols.cvt as m;"
        "assert hear_byols.__file__.startswith(sys.argv[1]), hear_byols.__file__;"
        "model = m.load_model(sys.argv[2]);"
        "print(m.get_scene_embeddings(torch.zeros(1, 16000), model).shape);"
        "print(sorted(v.name for v in hear_byols.list_variants()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(target), str(checkpoint_path("cvt"))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch.Size([1, 2048])" in result.stdout
    assert "['byola', 'clstm', 'cvt', 'default', 'resnetish34']" in result.stdout
