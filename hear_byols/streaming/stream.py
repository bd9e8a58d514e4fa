"""``Stream(model)``: the exact timestamp embeddings of audio that arrives in chunks.

The framing and buffering are the ONNX runtime's (``hear_byols.onnx_runtime.stream``, torch-free,
so both streams cut the same frames); this module adds the torch encoder of one frame batch:
the model's frontend on each 1 s frame, the fixed statistics, the model's forward pass at the
layer selected when the stream was opened. That is what the exact timestamp path computes per
frame, so the stream equals ``get_timestamp_embeddings`` (exact mode, same statistics) for any
chunking. Only fixed statistics stream: ``reference`` and ``per_clip`` need every frame of the
clip before the first can be normalised.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from hear_byols.errors import AudioTypeError, InvalidOptionError
from hear_byols.inference.model import ByolsModel, require_byols_model
from hear_byols.inference.runtime import inference
from hear_byols.logmel.normalization import FIXED, Normalization, apply_stats
from hear_byols.onnx_runtime.framing import HOP_MS
from hear_byols.onnx_runtime.stream import DEFAULT_BATCH, FrameStream


def require_fixed_statistics(normalization: Normalization | str, what: str) -> None:
    """Streams normalise each frame on its own: only fixed ``[mean, std]`` statistics allow that."""
    mode = normalization.mode if isinstance(normalization, Normalization) else normalization
    if mode != FIXED:
        raise InvalidOptionError(
            f"{what} uses {mode!r} normalisation, whose statistics come from the whole clip (or batch), which a "
            "stream does not have when it must emit a frame; use fixed statistics: measure them on your corpus "
            "with `hear-byols stats DATA... --out stats.json` and load the model with normalization=[mean, std] "
            "(or export the graph with --normalization stats.json)"
        )


class Stream:
    """``push(chunk) -> (embeddings (n, D), timestamps (n,) ms)`` for the frames each chunk
    completes, ``flush()`` for the rest; tensors on the chunk's device (CPU for NumPy chunks).

    ``hop_ms``: frame hop (default 50 ms, as ``get_timestamp_embeddings``); ``batch``: frames per
    encoder pass (memory and latency bound: one frame + one chunk + one batch of frames).
    """

    def __init__(self, model: ByolsModel, hop_ms: float = HOP_MS, batch: int = DEFAULT_BATCH) -> None:
        self.model = require_byols_model(model)
        require_fixed_statistics(model.normalization, f"hear_byols.{model.variant}'s model")
        self.layer = model.selected_layer  # one layer for the whole stream
        self._device: torch.device | None = None
        #: the framing and buffer (``retained``: samples held, ``emitted``: frames so far)
        self.frames = FrameStream(self._encode, self.layer.size, hop_ms, batch)

    def push(self, chunk: Any, sample_rate: int | None = None) -> tuple[Tensor, Tensor]:
        """Append 1-D float32 samples in [-1, 1] at 16 kHz (a tensor or an array, any length)."""
        if isinstance(chunk, Tensor):
            if chunk.dtype != torch.float32:
                raise AudioTypeError(f"a chunk has dtype {chunk.dtype}, expected torch.float32: scale integer PCM to "
                                     "[-1, 1] first (e.g. x.float() / 32768 for int16), or convert with x.float()")
            self._device = chunk.device
            chunk = chunk.detach().cpu().numpy()
        return self._tensors(self.frames.push(chunk, sample_rate))

    def flush(self) -> tuple[Tensor, Tensor]:
        """End of the audio: the remaining frames (the end's zero padding as offline)."""
        return self._tensors(self.frames.flush())

    def _encode(self, frames: np.ndarray) -> np.ndarray:
        model, norm = self.model, self.model.normalization
        with inference(model) as device:
            log_mels = model.frontend(torch.from_numpy(frames).to(device))
            embeddings = model(apply_stats(log_mels, norm.mean, norm.std), self.layer)
        return embeddings.cpu().numpy()

    def _tensors(self, emitted: tuple[np.ndarray, np.ndarray]) -> tuple[Tensor, Tensor]:
        device = self._device or torch.device("cpu")
        return tuple(torch.from_numpy(array).to(device) for array in emitted)  # type: ignore[return-value]

