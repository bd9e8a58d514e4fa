"""The HEAR tools with a non-default layer.

hear-validator has no ``--model-options`` (its CLI takes a module, ``-m`` and ``-d`` only), so
it validates a layer through a module that binds the option, as docs/LAYERS.md shows.
heareval's embeddings runner passes ``--model-options`` to ``load_model`` as keyword
arguments through its ``Embedding`` class: that class is run here with ``{"layer": ...}``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hear_byols.api import list_layers

#: one non-default layer per encoder type
VALIDATED_LAYERS = [("default", "conv2"), ("cvt", "stage1"), ("resnetish34", "stage2"), ("clstm", "lstm")]

BOUND_MODULE = '''"""hear_byols.{variant} at layer {layer!r}: hear-validator passes no load_model options."""
from hear_byols import {variant} as _variant

get_scene_embeddings = _variant.get_scene_embeddings
get_timestamp_embeddings = _variant.get_timestamp_embeddings


def load_model(model_file_path=""):
    return _variant.load_model(model_file_path, layer={layer!r})
'''


@pytest.mark.slow
@pytest.mark.parametrize("variant, layer", VALIDATED_LAYERS)
def test_hear_validator_passes_with_a_non_default_layer(variant, layer, checkpoint_path, tmp_path):
    validator = shutil.which("hear-validator", path=str(Path(sys.executable).parent))
    assert validator, "hear-validator is not installed: run `make install-eval`"
    module = f"layer_{variant}_{layer}"
    (tmp_path / f"{module}.py").write_text(BOUND_MODULE.format(variant=variant, layer=layer))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [validator, module, "-m", str(checkpoint_path(variant)), "-d", "cpu"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert result.stdout.rstrip().splitlines()[-1] == "Looks good!", output[-3000:]
    size = {item.name: item.size for item in list_layers(variant)}[layer]
    assert f"scene_embedding_size: {size}" in result.stdout and f"timestamp_embedding_size: {size}" in result.stdout


@pytest.mark.slow
def test_heareval_passes_the_layer_option_to_load_model(checkpoint_path):
    """What ``python -m heareval.embeddings.runner hear_byols.cvt --model-options '{"layer": "stage1"}'``
    does with the option (heareval imports TensorFlow: a subprocess keeps it out of this one)."""
    script = f"""
import json, numpy as np
from heareval.embeddings.task_embeddings import Embedding
embedding = Embedding("hear_byols.cvt", {str(checkpoint_path("cvt"))!r}, json.loads('{{"layer": "stage1"}}'))
audio = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 16000)).astype(np.float32)
scene = embedding.get_scene_embedding_as_numpy(audio)
frames, timestamps = embedding.get_timestamp_embedding_as_numpy(audio)
print(json.dumps([embedding.model.layer, embedding.model.scene_embedding_size, scene.shape, frames.shape]))
"""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    layer, size, scene, frames = json.loads(result.stdout.strip().splitlines()[-1])
    assert (layer, size, scene, frames) == ("stage1", 1024, [2, 1024], [2, 21, 1024])
