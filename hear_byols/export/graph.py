"""The module that becomes the ONNX graph: frontend (optional), normalisation, reference encoder.

It reproduces ``get_scene_embeddings`` for one normalisation that does not depend on the batch
(``per_clip`` or fixed ``[mean, std]``), row by row, with only operators that export for any batch
size and length:

* the log-mel comes from ``DftLogMelFrontend`` (the complex, chunked STFT does not export);
* the encoder is the reference-shaped module tree (``model.encoder``), not the eval fast paths:
  BatchNorm folds into the convolutions in onnxruntime anyway, and the CPU tricks do not help it;
* a row whose log-mel is constant (digital silence; ``describes_constant``) gets the embedding
  the scene path gives it, one second of its normalised value. That value is the same for every
  such row, ``log(eps)`` normalised, so its embedding is computed once here and selected in the
  graph with a ``where``; a near-silent row that float32 cannot tell from silence gets exactly
  silence's embedding (the scene path encodes its first column, an ulp or two away).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from hear_byols.encoders.base import Layer
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.dft import DftLogMelFrontend
from hear_byols.logmel.normalization import (
    CONSTANT_STD_RATIO,
    PER_CLIP,
    STD_FLOOR,
    Normalization,
    apply_stats,
    clip_mean_std,
    scene_stats,
)


class ReferenceEncoder(nn.Module):
    """``(B, n_mels, T)`` normalised log-mel -> ``(B, size)`` embeddings of one layer, through the
    reference modules only (what ``ByolsModel.forward`` computes, without its fast paths)."""

    def __init__(self, model: ByolsModel) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.layer: Layer = model.selected_layer
        self.final = model.final_layer_selected

    def forward(self, log_mel: Tensor) -> Tensor:
        if self.final:
            return self.encoder(log_mel.unsqueeze(1))
        return self.encoder.layer_embedding(log_mel.unsqueeze(1), self.layer.name)


class SceneGraph(nn.Module):
    """``audio (B, samples)`` -> ``embedding (B, size)``: ``get_scene_embeddings`` of each row."""

    def __init__(self, model: ByolsModel, normalization: Normalization) -> None:
        super().__init__()
        if normalization.mode not in (PER_CLIP, "fixed"):
            raise ValueError(f"a serving graph cannot use normalization {normalization.mode!r}")
        self.normalization = normalization
        self.frontend = DftLogMelFrontend(model.spec.frontend)
        self.encoder = ReferenceEncoder(model)
        self.register_buffer("silence_embedding", self._silence_embedding(model), persistent=False)

    @torch.no_grad()
    def _silence_embedding(self, model: ByolsModel) -> Tensor:
        """``(1, size)``: what the scene path gives digital silence, one second of it (every
        length gives the same), with the package's own frontend and statistics."""
        log_mel = model.frontend(torch.zeros(1, model.sample_rate))
        means, stds = scene_stats(self.normalization, *clip_mean_std(log_mel))
        return self.encoder(apply_stats(log_mel, means, stds))

    def forward(self, audio: Tensor) -> Tensor:
        log_mel = self.frontend(audio)
        mean, std = clip_statistics(log_mel)
        constant = std < CONSTANT_STD_RATIO * mean.abs()
        if self.normalization.mode == PER_CLIP:
            normalised = (log_mel - mean) / std.clamp(min=STD_FLOOR)
        else:
            normalised = (log_mel - self.normalization.mean) / max(self.normalization.std, STD_FLOOR)
        # a constant row is replaced below; zeroing it keeps the encoder's input finite
        normalised = torch.where(constant, torch.zeros_like(normalised), normalised)
        return torch.where(constant.reshape(-1, 1), self.silence_embedding, self.encoder(normalised))


def clip_statistics(log_mel: Tensor) -> tuple[Tensor, Tensor]:
    """Each row's mean and unbiased std, ``(B, 1, 1)`` float32, summed in float64.

    onnxruntime's float32 ReduceMean adds sequentially: over the 9,664 values of a 1.5 s clip
    of digital silence it was off by 1.5e-4 (torch's pairwise sum: exact), so silence was not
    recognised and a real clip's statistics drifted with its length. In float64 both agree with
    torch's float32 statistics to within their rounding.
    """
    wide = log_mel.double()
    mean = wide.mean(dim=(1, 2), keepdim=True)
    std = wide.std(dim=(1, 2), keepdim=True)
    return mean.float(), std.float()


def build_graph_module(model: ByolsModel, normalization: Normalization, include_frontend: bool) -> nn.Module:
    """The module to export: ``SceneGraph`` (audio in) or the bare ``ReferenceEncoder`` (log-mel in)."""
    module = SceneGraph(model, normalization) if include_frontend else ReferenceEncoder(model)
    return module.eval()
