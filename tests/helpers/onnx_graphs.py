"""Exported graphs for the runtime and streaming tests, made with deterministic test weights.

TEMPORARY fallback until ``hear_byols.export.export_onnx`` is merged: a plain legacy torch.onnx
export of frontend (real DFT as a strided conv1d) + fixed/per_clip normalisation + the reference
encoder, with a sidecar in the runtime's format.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from torch import nn

from hear_byols.testing import write_deterministic_checkpoint


def export_graph(variant: str, out: Path, normalization, weights: Path | None = None) -> Path:
    """``out`` (.onnx) and its sidecar for ``variant`` with ``normalization`` ('per_clip' or [mean, std])."""
    from hear_byols.api import load_model

    weights = weights or write_deterministic_checkpoint(variant, out.with_suffix(".pth"))
    model = load_model(str(weights), variant=variant, normalization=normalization)
    module = _Graph(model, normalization).eval()
    torch.onnx.export(module, (torch.zeros(2, 16000),), str(out), input_names=["audio"], output_names=["embedding"],
                      dynamic_axes={"audio": {0: "batch", 1: "samples"}, "embedding": {0: "batch"}},
                      opset_version=17, dynamo=False)
    sidecar = {
        "variant": variant, "weights_sha256": hashlib.sha256(Path(weights).read_bytes()).hexdigest(),
        "graph_sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "normalization": normalization,
        "layer": model.layer, "embedding_dim": model.scene_embedding_size, "input_name": "audio",
        "output_name": "embedding", "frontend": {"sample_rate": 16000, "included": True},
        "timestamps": {"frame_samples": 16000, "pad_samples": 8000},
    }
    Path(str(out) + ".json").write_text(json.dumps(sidecar))
    return out


class _Graph(nn.Module):
    def __init__(self, model, normalization) -> None:
        super().__init__()
        spec, self.frontend, self.encoder = model.spec.frontend, model.frontend, model.encoder
        self.normalization, self.spec = normalization, spec
        window = self.frontend.padded_window().double()
        n = torch.arange(spec.n_fft)
        angle = (torch.arange(spec.n_freqs)[:, None] * n[None, :] % spec.n_fft).double() * 2 * math.pi / spec.n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window]).float().unsqueeze(1)
        self.register_buffer("basis", basis)

    def forward(self, audio):
        half = self.spec.n_fft // 2
        padded = nn.functional.pad(audio.unsqueeze(1), (half, half), mode="reflect")
        spectrum = nn.functional.conv1d(padded, self.basis, stride=self.spec.hop_length)
        real, imag = spectrum.split(self.spec.n_freqs, dim=1)
        log_mel = self.frontend.power_to_log_mel(real.square() + imag.square())
        if self.normalization == "per_clip":
            mean, std = log_mel.mean(dim=(1, 2), keepdim=True), log_mel.std(dim=(1, 2), keepdim=True)
        else:
            mean, std = self.normalization
        return self.encoder(((log_mel - mean) / std).unsqueeze(1))
