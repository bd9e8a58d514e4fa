"""Cost of each layer (``load_model(layer=...)``) against the default layer, in one run.

The default layer runs the eval fast paths; the others run the reference modules up to the
layer. Rows: per variant and layer, the scene embedding time of 4 clips x 5 s and the exact
timestamp embedding time of one 3 s clip, each as a ratio to the default layer's (best of
``--repeats`` runs, interleaved so load drift hits every layer alike). Deterministic weights:
speed does not depend on the values.

    .venv/bin/python benchmarks/bench_layers.py [--variants default cvt] [--repeats 3]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from hear_byols import api
from hear_byols.testing import write_deterministic_checkpoint
from hear_byols.variants import variant_names, variant_spec

SAMPLE_RATE = 16000


def one_variant_per_encoder_type() -> list[str]:
    """The default ``--variants``, from the configs (a new encoder type is benchmarked without an
    edit here): per type, the first variant by name with a published HEAR model, else the first."""
    specs = [variant_spec(name) for name in variant_names()]
    types = dict.fromkeys(spec.encoder_type for spec in specs)
    published_first = sorted(specs, key=lambda spec: (spec.hear_model_id is None, spec.name))
    return [next(spec.name for spec in published_first if spec.encoder_type == kind) for kind in types]


def best_time(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_variant(variant: str, checkpoint: Path, repeats: int) -> list[str]:
    generator = torch.Generator().manual_seed(0)
    scenes = (torch.rand(4, 5 * SAMPLE_RATE, generator=generator) * 2 - 1) * 0.5
    clip = (torch.rand(1, 3 * SAMPLE_RATE, generator=generator) * 2 - 1) * 0.5
    model = api.load_model(str(checkpoint), variant=variant)
    layers = model.layers
    scene_times = {layer.name: [] for layer in layers}
    frame_times = {layer.name: [] for layer in layers}
    for _ in range(repeats):  # interleaved: each round times every layer once
        for layer in layers:
            model.select_layer(layer.name)
            scene_times[layer.name].append(best_time(lambda: api.get_scene_embeddings(scenes, model), 1))
            frame_times[layer.name].append(best_time(lambda: api.get_timestamp_embeddings(clip, model), 1))
    default = layers[-1].name
    base_scene, base_frames = min(scene_times[default]), min(frame_times[default])
    rows = []
    for layer in layers:
        scene, frames = min(scene_times[layer.name]), min(frame_times[layer.name])
        rows.append(
            f"| {variant} | {layer.name}{' (default)' if layer.name == default else ''} | {layer.size} | "
            f"{scene:.3f} | {scene / base_scene:.2f} | {frames:.3f} | {frames / base_frames:.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=one_variant_per_encoder_type())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print("| variant | layer | dim | scene 4x5 s (s) | ratio to default | timestamps 1x3 s (s) | ratio to default |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            checkpoint = write_deterministic_checkpoint(variant, Path(tmp) / f"{variant}.pth")
            for row in bench_variant(variant, checkpoint, args.repeats):
                print(row, flush=True)


if __name__ == "__main__":
    main()
