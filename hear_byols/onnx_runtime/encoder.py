"""``OnnxEncoder``: the HEAR functions of an exported graph, with NumPy and onnxruntime only.

``scene(audio)`` equals ``get_scene_embeddings`` and ``timestamps(audio, hop_ms)`` equals
``get_timestamp_embeddings`` (exact mode) of the model the graph was exported from, with the same
statistics: the graph maps each row of ``(batch, samples)`` audio to its scene embedding, and a
timestamp embedding is the scene embedding of its 1 s frame (fixed statistics), framed here by
the same ``FrameBuffer`` the streams use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hear_byols.errors import AudioTypeError, InvalidAudioError, InvalidOptionError
from hear_byols.onnx_runtime.framing import HOP_MS, MS_PER_SECOND
from hear_byols.onnx_runtime.sidecar import FIXED, GraphInfo, read_graph_info
from hear_byols.onnx_runtime.stream import DEFAULT_BATCH, FrameStream
from hear_byols.onnx_runtime.session import open_session

#: Samples per graph call in ``scene`` (about four 10 s clips): bounds the activations held.
SAMPLES_PER_CALL = 1 << 19


class OnnxEncoder:
    """An exported graph and its checked sidecar (``path`` + ``.json``).

    ``variant``: refuse a graph of another variant. ``threads``: onnxruntime's intra-op threads
    (default 1, as the package's benchmarks; 0 lets onnxruntime choose).
    """

    def __init__(self, path: str | os.PathLike[str], *, variant: str | None = None, threads: int = 1) -> None:
        self.path = Path(path)
        self.info: GraphInfo = read_graph_info(self.path, variant)
        self.session = open_session(self.path, self.info, threads)
        self.variant = self.info.variant
        self.sample_rate = self.info.sample_rate
        self.dim = self.info.dim
        self.scene_embedding_size = self.timestamp_embedding_size = self.dim

    def __repr__(self) -> str:
        return f"OnnxEncoder({str(self.path)!r}, variant={self.variant!r}, normalization={self.info.normalization!r})"

    def embed_rows(self, audio: np.ndarray) -> np.ndarray:
        """The graph on ``(b, samples)`` float32 audio: ``(b, dim)`` float32."""
        try:
            (out,) = self.session.run([self.info.output_name], {self.info.input_name: np.ascontiguousarray(audio)})
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unexported exception types
            raise InvalidAudioError(
                f"{self.path} cannot embed audio of shape {audio.shape} ({exc}); clips shorter than "
                f"{self.info.min_samples} samples are too short for {self.variant}: zero-pad them"
            ) from None
        return out

    def scene(self, audio: Any) -> np.ndarray:
        """``(n_sounds, dim)`` scene embeddings of float32 ``(n_sounds, samples)`` audio (or a list
        of 1-D clips of any lengths), as ``get_scene_embeddings``."""
        clips = _clips(audio)
        out = np.empty((len(clips), self.dim), np.float32)
        by_length: dict[int, list[int]] = {}
        for index, clip in enumerate(clips):
            by_length.setdefault(clip.size, []).append(index)
        for length, indices in by_length.items():
            if length < self.info.min_samples:
                raise InvalidAudioError(
                    f"clip(s) {indices} have {length} samples; {self.variant} needs at least {self.info.min_samples} "
                    f"({1000 * self.info.min_samples / self.sample_rate:.1f} ms): the clips are too short, zero-pad them"
                )
            per_call = max(1, SAMPLES_PER_CALL // length)
            for begin in range(0, len(indices), per_call):
                rows = indices[begin : begin + per_call]
                out[rows] = self.embed_rows(np.stack([clips[i] for i in rows]))
        return out

    def timestamps(self, audio: Any, hop_ms: float = HOP_MS, batch: int = DEFAULT_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """``(n_sounds, n_frames, dim)`` embeddings of 1 s frames every ``hop_ms`` and their centres
        in ms ``(n_sounds, n_frames)``, as ``get_timestamp_embeddings`` (exact mode); needs a graph
        with fixed statistics (``stream`` explains why)."""
        clips = _clips(audio)
        if len({clip.size for clip in clips}) > 1:
            raise InvalidAudioError(
                f"timestamp embeddings need clips of equal length (got {sorted({c.size for c in clips})}): "
                "zero-pad them to one length, or call timestamps() once per clip"
            )
        results = []
        for clip in clips:
            stream = self.stream(hop_ms, batch, _what="timestamps()")
            pushed, flushed = stream.push(clip), stream.flush()
            results.append(tuple(np.concatenate(pair) for pair in zip(pushed, flushed)))
        embeddings = np.stack([e for e, _ in results])
        return embeddings, np.stack([t for _, t in results])

    def stream(self, hop_ms: float = HOP_MS, batch: int = DEFAULT_BATCH, *, _what: str = "a stream") -> FrameStream:
        """A ``FrameStream`` over this graph: ``push(chunk) -> (embeddings, timestamps)``, ``flush()``."""
        if self.info.normalization_mode != FIXED:
            raise InvalidOptionError(
                f"{self.path} normalises with {self.info.normalization_mode!r} statistics: {_what} cannot use it, "
                "because per_clip timestamp embeddings normalise every frame with the statistics of the whole clip "
                "(all its frames), while this graph normalises each row it is given by that row's own; export a graph "
                "with fixed statistics (`hear-byols stats DATA... --out stats.json`, then "
                "`hear-byols export VARIANT --normalization stats.json`); scene() works with this graph"
            )
        frame_ms = self.info.frame_samples / self.sample_rate * MS_PER_SECOND
        return FrameStream(self.embed_rows, self.dim, hop_ms, batch, frame_ms=frame_ms)


def _clips(audio: Any) -> list[np.ndarray]:
    """``(n, samples)`` float32 array (or a list of 1-D ones) as a list of 1-D finite clips."""
    if isinstance(audio, (list, tuple)):
        clips = list(audio)
        if not clips:
            raise InvalidAudioError("the audio list is empty: pass at least one clip")
        for i, clip in enumerate(clips):
            _check_array(clip, f"audio[{i}]", 1)
    else:
        _check_array(audio, "audio", 2)
        if audio.shape[0] == 0:
            raise InvalidAudioError("audio has 0 clips (shape (0, n)): pass at least one clip")
        clips = list(audio)
    for i, clip in enumerate(clips):
        if clip.size == 0:
            raise InvalidAudioError(f"clip {i} has 0 samples: pass non-empty clips")
        if not np.isfinite(clip).all():
            raise InvalidAudioError(f"clip {i} contains NaN or Inf; clean the signal (e.g. np.nan_to_num) first")
        if float(np.abs(clip).max()) > 1.0:
            raise InvalidAudioError(f"clip {i} has samples outside [-1, 1]: scale the audio to float PCM in [-1, 1] first")
    return clips


def _check_array(value: Any, what: str, ndim: int) -> None:
    if not isinstance(value, np.ndarray):
        raise AudioTypeError(f"{what} must be a numpy.ndarray of float32 samples, got {type(value).__name__}")
    if value.dtype != np.float32:
        raise AudioTypeError(
            f"{what} has dtype {value.dtype}, expected float32 in [-1, 1]: convert floats with x.astype(np.float32), "
            "scale integer PCM first (x / 32768 for int16)"
        )
    if value.ndim != ndim:
        expected = "(n_sounds, n_samples)" if ndim == 2 else "(n_samples,)"
        raise InvalidAudioError(f"{what} has shape {value.shape}; expected {expected} mono audio at 16 kHz")
