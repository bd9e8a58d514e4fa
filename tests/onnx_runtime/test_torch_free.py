"""The runtime in a process where importing torch raises: import, scene and timestamps work, and
give what the torch API gives."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings

#: A sitecustomize that makes ``import torch`` (and any torch.* module) raise, as on a machine
#: without it; it also records that it was active, so the test cannot pass with it ignored.
BLOCK_TORCH = '''
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the torch-free test)")
        return None
sys.meta_path.insert(0, _NoTorch())
sys.torch_blocked = True
'''

RUN = '''
import json, sys
import numpy as np
assert sys.torch_blocked
try:
    import torch
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("torch imported despite the block")
import hear_byols.onnx_runtime, hear_byols.onnx_runtime.serve
from hear_byols.onnx_runtime import OnnxEncoder
encoder = OnnxEncoder(sys.argv[1])
audio = np.load(sys.argv[2])
np.save(sys.argv[3], encoder.scene(audio))
embeddings, timestamps = encoder.timestamps(audio)
np.save(sys.argv[4], embeddings)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
'''


def test_runtime_without_torch(graph, torch_model, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    audio = (0.2 * np.random.default_rng(0).standard_normal((2, 14000))).astype(np.float32)
    np.save(tmp_path / "audio.npy", audio)
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{site}:{root}", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", RUN, str(graph("default")), str(tmp_path / "audio.npy"),
                           str(tmp_path / "scene.npy"), str(tmp_path / "timestamps.npy")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    model = torch_model("default")
    scene = get_scene_embeddings(torch.from_numpy(audio), model).numpy()
    timestamps = get_timestamp_embeddings(torch.from_numpy(audio), model)[0].numpy()
    assert np.abs(np.load(tmp_path / "scene.npy") - scene).max() <= 1e-5 * np.abs(scene).max()
    assert np.abs(np.load(tmp_path / "timestamps.npy") - timestamps).max() <= 1e-5 * np.abs(timestamps).max()


def test_package_import_does_not_load_torch() -> None:
    code = "import sys, hear_byols, hear_byols.onnx_runtime; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "False"
