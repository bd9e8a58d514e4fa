"""Distribution: a regular wheel carries the configs and the one shipped weights file, and the
real d=512 model works offline from a wheel and from a bare clone (nothing beside it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hear_byols.variants import variant_names, variant_spec

REPO = Path(__file__).resolve().parents[2]
SHIPPED = variant_spec("default512").weight_files[0].filename

#: Run in a child interpreter: import hear_byols from sys.argv[1] only (the editable install of
#: the development environment is switched off), embed the fixture audio with the shipped
#: d=512 model, offline, and compare with the original's golden output.
OFFLINE_SCRIPT = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
import hear_byols, hear_byols.default512 as m
assert hear_byols.__file__.startswith(sys.argv[1]), hear_byols.__file__
model = m.load_model()
assert model.weights.endswith("{shipped}"), model.weights
audio = torch.from_numpy(np.load(sys.argv[2])["audio"])
golden = np.load(sys.argv[3])["scene_embeddings"]
ours = m.get_scene_embeddings(audio, model).numpy()
print("relative error", np.abs(ours - golden).max() / np.abs(golden).max())
print(sorted(v.name for v in hear_byols.list_variants()))
""".format(shipped=SHIPPED)


def run_offline(site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    fixtures = REPO / "tests" / "fixtures"
    env = {**os.environ, "HEAR_BYOLS_OFFLINE": "1", "HEAR_BYOLS_CACHE_DIR": str(cwd / "empty-cache")}
    env.pop("HEAR_BYOLS_WEIGHTS_DIR", None)
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, str(site), str(fixtures / "audio_inputs.npz"),
         str(fixtures / "golden" / "default512.npz")],
        capture_output=True, text=True, cwd=cwd, env=env,
    )


def copy_checkout(dest: Path) -> Path:
    """The files a clone of the working tree has (tracked, and untracked but not ignored), copied to ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def assert_real_model_ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr[-2000:]
    error = float(result.stdout.split("relative error", 1)[1].split()[0])
    assert error < 1e-4  # the float32 bound of tests/api/test_parity.py (1e-5 on the golden's CPU kind)
    assert str(variant_names()) in result.stdout


@pytest.mark.slow
def test_built_wheel_contains_package_data_and_works_offline(tmp_path):
    # from a copy of the tracked files: a build/ folder left in the checkout by an earlier build
    # would carry modules since moved or deleted into the wheel (setuptools never empties it)
    source = copy_checkout(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("hear_byols-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in variant_names():
        assert f"hear_byols/configs/{name}.yaml" in names
    assert f"hear_byols/checkpoints/{SHIPPED}" in names
    assert "hear_byols/checkpoints/LICENSE-SERAB" in names
    weights = [name for name in names if name.endswith((".pth", ".pt", ".ckpt"))]
    assert weights == [f"hear_byols/checkpoints/{SHIPPED}"], "the only weights file the package may carry"
    sources = {path.relative_to(source).as_posix() for path in (source / "hear_byols").rglob("*.py")
               if not {"configs", "checkpoints"} & set(path.relative_to(source).parts)}
    modules = {name for name in names if name.startswith("hear_byols/") and name.endswith(".py")
               and not name.startswith(("hear_byols/configs/", "hear_byols/checkpoints/"))}
    assert sources - modules == set(), "modules missing from the wheel: list their packages in setup.cfg"
    assert modules - sources == set(), "the wheel carries modules the source tree does not have"
    # install into a target dir and import it from there, away from the source tree
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert_real_model_ran(run_offline(target, tmp_path))


@pytest.mark.slow
def test_bare_clone_runs_the_real_model_offline(tmp_path):
    """The repository's files alone (what a clone has; no shared folder beside it, no install)."""
    clone = copy_checkout(tmp_path / "clone")
    assert not (clone.parent / "shared").exists()
    assert_real_model_ran(run_offline(clone, clone))
