"""``hear-byols stream``: timestamp embeddings of a file or of raw PCM on stdin, one JSON line per
frame as soon as the frame exists (docs/CLI.md, docs/DEPLOY.md).

The model is a variant (torch, ``hear_byols.streaming.Stream``) or an exported graph (``.onnx``,
``hear_byols.onnx_runtime``); either way the frames are those of the exact timestamp path with
fixed statistics, so the lines equal ``get_timestamp_embeddings`` of the whole input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import numpy as np

from hear_byols.argtypes import count, positive
from hear_byols.errors import AudioFileError, InvalidAudioError, StorageError, UsageError
from hear_byols.onnx_runtime.chunks import checked_chunk
from hear_byols.storage.atomic import atomic_write_json, create_out_dir, save_npy

SAMPLE_RATE = 16000
#: ``--format``: raw stdin sample encodings (little-endian), and their scale to [-1, 1].
FORMATS = {"f32le": (np.dtype("<f4"), 1.0), "s16le": (np.dtype("<i2"), 1.0 / 32768)}
#: The file an ``--out-dir`` run writes first (its settings) and completes last (its frame count).
MARKER = "stream.json"
Emit = Callable[[np.ndarray, np.ndarray], None]


def add_parser(commands: argparse._SubParsersAction) -> None:
    stream = commands.add_parser(
        "stream", help="stream timestamp embeddings of a file or stdin PCM as JSON lines",
        description="Embed 1 s frames every --hop ms of FILE, or of raw 16 kHz mono PCM read from stdin (FILE '-', "
        "--format f32le: float32 little-endian in [-1, 1], default; s16le: int16 little-endian), in chunks of "
        "--chunk-ms. Each frame is written as soon as its samples exist, as one JSON line "
        '{"timestamp_ms": T, "embedding": [...]} (with --out-dir: {"timestamp_ms": T, "path": "DIR/NNNNNNN.npy"}), '
        "flushed per line. The frames equal get_timestamp_embeddings (exact mode) with the same fixed statistics.",
    )
    stream.add_argument("input", metavar="FILE|-", help="an audio file at 16 kHz (mono, or downmixed as embed does), "
                        "or - for raw PCM on stdin")
    stream.add_argument("--model", required=True, metavar="VARIANT|GRAPH.onnx",
                        help="a variant (torch) or a graph exported by hear-byols export (its .json sidecar beside it)")
    stream.add_argument("--normalization", type=_normalization, default=None, metavar="MEAN,STD|STATS.json",
                        help="fixed log-mel statistics (required with a variant; a graph has its own)")
    stream.add_argument("--weights", default="", metavar="FILE", help="checkpoint of the variant (default: official)")
    stream.add_argument("--chunk-ms", type=positive("milliseconds"), default=100.0, metavar="MS",
                        help="audio pushed at a time (default 100 ms); latency is half a frame plus up to one chunk")
    stream.add_argument("--hop", type=positive("milliseconds"), default=50.0, metavar="MS",
                        help="frame hop (default 50 ms, at least one sample)")
    stream.add_argument("--batch", type=count(1), default=16, metavar="N", help="frames per encoder pass (default 16)")
    stream.add_argument("--format", choices=list(FORMATS), default="f32le", help="stdin sample format (default f32le)")
    stream.add_argument("--resample", action="store_true",
                        help="resample a FILE at another rate to 16 kHz (soxr); without it such a file is refused")
    stream.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                        help="write each embedding as DIR/NNNNNNN.npy and put its path in the line")
    stream.add_argument("--overwrite", action="store_true", help="replace what an earlier stream left in --out-dir")
    stream.set_defaults(run=run_stream)


def _normalization(text: str) -> Any:
    """``MEAN,STD`` or a statistics file, checked by the parser ``load_model`` uses."""
    from hear_byols.errors import InvalidOptionError
    from hear_byols.logmel.normalization import parse_normalization

    value: Any = text.split(",") if "," in text and not text.lower().endswith(".json") else text
    try:
        return parse_normalization(value)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_stream(args: argparse.Namespace) -> int:
    chunk = round(args.chunk_ms * SAMPLE_RATE / 1000)
    if chunk < 1:
        raise UsageError(f"--chunk-ms {args.chunk_ms:g} is less than one sample at 16 kHz; use at least 0.0625")
    stream = open_stream(args)
    emit = FrameWriter(args.out_dir, args.overwrite, _settings(args)) if args.out_dir else FrameWriter(None)
    chunks = stdin_chunks(sys.stdin.buffer, chunk, args.format) if args.input == "-" else file_chunks(
        Path(args.input), chunk, args.resample)
    try:
        for samples in chunks:
            emit(*stream.push(samples))
        emit(*stream.flush())
    except BrokenPipeError:  # the reader went away (`| head`): no one is left to write to
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"hear-byols stream: stdout was closed after {emit.count} frames; stopped", file=sys.stderr)
        return 1
    emit.finish()
    return 0


def open_stream(args: argparse.Namespace) -> Any:
    """The stream of ``--model``: ``push(chunk)``/``flush()`` returning NumPy ``(embeddings, timestamps)``."""
    if args.model.lower().endswith(".onnx") or os.path.sep in args.model:
        from hear_byols.onnx_runtime import OnnxEncoder

        encoder = OnnxEncoder(args.model)
        if args.normalization is not None and args.normalization.as_option() != encoder.info.normalization:
            raise UsageError(f"--normalization {args.normalization.as_option()} differs from the statistics "
                             f"{encoder.info.normalization} exported in {args.model}; drop --normalization")
        return encoder.stream(args.hop, args.batch)
    return _torch_stream(args)


def _torch_stream(args: argparse.Namespace) -> Any:
    from hear_byols.api import load_model
    from hear_byols.streaming import Stream, require_fixed_statistics
    from hear_byols.variants import variant_names

    if args.model not in variant_names():
        raise UsageError(f"--model {args.model!r} is neither a variant ({', '.join(variant_names())}) nor a .onnx graph")
    if args.normalization is None:
        raise UsageError("--normalization MEAN,STD (or a stats.json of `hear-byols stats`) is required with a variant: "
                         "streams need fixed statistics")
    require_fixed_statistics(args.normalization, "--normalization")
    stream = Stream(load_model(args.weights, variant=args.model, normalization=args.normalization), args.hop, args.batch)
    return _NumpyStream(stream)


class _NumpyStream:
    """The torch ``Stream`` with NumPy outputs, as the ONNX stream has."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def push(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tuple(t.numpy() for t in self.stream.push(samples))  # type: ignore[return-value]

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        return tuple(t.numpy() for t in self.stream.flush())  # type: ignore[return-value]


def file_chunks(path: Path, chunk: int, resample: bool) -> Iterator[np.ndarray]:
    """The file's 16 kHz mono samples in chunks; another rate only with ``--resample``."""
    from hear_byols.audio.files import read_audio_16k

    if not path.is_file():
        raise UsageError(f"{path}: no such file (pass - to read raw PCM from stdin)")
    audio = read_audio_16k(path)
    if audio.source_rate != SAMPLE_RATE and not resample:
        raise AudioFileError(f"{path}: is at {audio.source_rate} Hz, not 16 kHz; pass --resample to resample it (soxr)")
    try:  # the whole file before its first frame: a bad file gives no partial output
        checked_chunk(audio.samples)
    except InvalidAudioError as exc:
        raise AudioFileError(f"{path}: {str(exc).replace('a chunk', 'the audio', 1)}") from None
    for begin in range(0, len(audio.samples), chunk):
        yield audio.samples[begin : begin + chunk]


def stdin_chunks(source: IO[bytes], chunk: int, sample_format: str) -> Iterator[np.ndarray]:
    """Raw PCM from ``source`` in chunks of ``chunk`` samples (the last may be shorter)."""
    dtype, scale = FORMATS[sample_format]
    read = 0  # samples read so far, for the message
    while data := source.read(chunk * dtype.itemsize):
        whole = len(data) - len(data) % dtype.itemsize
        read += whole // dtype.itemsize
        if whole != len(data):  # a buffered read returns a short block only at the end
            raise InvalidAudioError(f"stdin ended inside a sample ({len(data) - whole} stray bytes after "
                                    f"{read} {sample_format} samples): the stream is cut short")
        samples = np.frombuffer(data[:whole], dtype)
        yield samples.astype(np.float32) * np.float32(scale) if scale != 1.0 else samples.astype(np.float32)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    norm = args.normalization.as_option() if args.normalization is not None else None
    return {"input": os.fsdecode(args.input), "model": args.model, "weights": args.weights, "normalization": norm,
            "hop_ms": args.hop, "chunk_ms": args.chunk_ms, "format": args.format, "resample": args.resample}


class FrameWriter:
    """Writes each frame's JSON line (and, with an out-dir, its ``.npy``) and flushes stdout."""

    def __init__(self, out_dir: Path | None, overwrite: bool = False, settings: dict[str, Any] | None = None) -> None:
        self.out_dir, self.count, self.settings = out_dir, 0, settings or {}
        if out_dir is not None:
            claim_out_dir(out_dir, overwrite, self.settings)

    def __call__(self, embeddings: np.ndarray, timestamps: np.ndarray) -> None:
        for embedding, timestamp in zip(embeddings, timestamps):
            line: dict[str, Any] = {"timestamp_ms": float(timestamp)}
            if self.out_dir is None:
                line["embedding"] = embedding.tolist()
            else:
                path = self.out_dir / f"{self.count:07d}.npy"
                _writing(path, lambda: save_npy(path, embedding))
                line["path"] = os.fsdecode(path)
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            self.count += 1

    def finish(self) -> None:
        if self.out_dir is not None:
            marker = self.out_dir / MARKER
            _writing(marker, lambda: atomic_write_json(marker, self.settings | {"complete": True, "frames": self.count}))


def claim_out_dir(out_dir: Path, overwrite: bool, settings: dict[str, Any]) -> None:
    """Create ``out_dir`` and its marker exclusively: a second stream into it is refused (exit 2)
    unless ``--overwrite``, which first removes the earlier frames and marker."""
    create_out_dir(out_dir)
    marker = out_dir / MARKER
    leftovers = sorted(out_dir.glob("[0-9]*.npy"))
    if overwrite:
        for path in [*leftovers, marker]:
            _writing(path, lambda: path.unlink(missing_ok=True))
    elif leftovers:
        raise UsageError(f"--out-dir {out_dir} holds {len(leftovers)} frames of an earlier stream; "
                         "pass --overwrite to replace them, or name another folder")
    try:
        with open(marker, "x", encoding="ascii") as fh:
            json.dump(settings | {"complete": False}, fh)
    except FileExistsError:
        raise UsageError(f"--out-dir {out_dir} is used by another stream ({marker} exists); pass --overwrite "
                         "to replace its output, or name another folder") from None
    except OSError as exc:
        raise StorageError(f"cannot write {marker} ({exc.strerror or exc}); name a writable --out-dir") from None


def _writing(path: Path, write: Callable[[], None]) -> None:
    """``write()``, with a full or read-only disk reported as a StorageError naming ``path``."""
    try:
        write()
    except OSError as exc:
        raise StorageError(f"cannot write {path} ({exc.strerror or exc}): free space or name a writable --out-dir; "
                           "the frames written so far are complete, rerun with --overwrite") from None
