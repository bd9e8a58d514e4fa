"""Read an audio file as the float32 16 kHz mono signal the models expect.

The file is decoded in blocks, each block is downmixed (mean of the channels) and streamed
through a soxr resampler into a buffer sized from the frame count, so only the 16 kHz mono
result is ever held whole: a 10-minute 48 kHz stereo file never sits in memory at full rate.
A file already at 16 kHz mono is copied sample for sample (no resampler touches it), so the
command line and the Python API see the very same numbers.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from hear_byols.errors import AudioFileError

TARGET_RATE = 16000
#: soxr's "very high quality" preset: linear phase, pass band to 0.95 of Nyquist, 175 dB rejection.
RESAMPLE_QUALITY = "VHQ"
#: Frames decoded per block: bounds the full-rate data held at once (~0.75 MB for 48 kHz stereo).
BLOCK_FRAMES = 1 << 16
#: Extensions the command line picks up in directories and globs (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class AudioFile:
    """A decoded file: 16 kHz mono samples plus what the file was."""

    samples: np.ndarray  # float32 (n,)
    source_rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / TARGET_RATE


def resampled_length(n_frames: int, source_rate: int) -> int:
    """Samples at 16 kHz of ``n_frames`` at ``source_rate`` (what soxr produces once flushed)."""
    return round(n_frames * TARGET_RATE / source_rate)


def audio_duration_s(path: str | os.PathLike[str]) -> float:
    """Duration from the header alone (0 when unreadable): for progress totals, never trusted."""
    try:
        return sf.info(_soundfile_name(path)).duration
    except (sf.LibsndfileError, RuntimeError, OSError):
        return 0.0


def _soundfile_name(path: str | os.PathLike[str]) -> str | bytes:
    """soundfile encodes a str name as UTF-8, which fails for a name that is not UTF-8 (bytes
    such as ``b"\\xff.wav"`` on Linux, held as surrogates): such a name goes as its bytes."""
    name = os.fspath(path)
    try:
        name.encode(sys.getfilesystemencoding())
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def read_audio_16k(path: str | os.PathLike[str]) -> AudioFile:
    """Decode ``path``, downmix to mono and resample to 16 kHz; AudioFileError says what is wrong."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: empty file (0 bytes); re-export or re-copy it")
    try:
        with sf.SoundFile(_soundfile_name(path)) as audio:
            return _decode(path, audio)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(
            f"{path}: not a readable audio file ({exc}); check it is a WAV, FLAC, OGG or MP3 file that is "
            "complete (not truncated) and not another kind of file renamed with an audio extension"
        ) from None


def _decode(path: Path, audio: sf.SoundFile) -> AudioFile:
    rate, channels = audio.samplerate, audio.channels
    if audio.frames == 0:
        raise AudioFileError(f"{path}: holds no audio samples (0 frames at {rate} Hz)")
    buffer = _Buffer(resampled_length(audio.frames, rate))
    resampler = None if rate == TARGET_RATE else soxr.ResampleStream(rate, TARGET_RATE, 1, "float32", RESAMPLE_QUALITY)
    decoded = 0
    for block in audio.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
        _check_finite(path, block, decoded)
        decoded += len(block)
        mono = np.ascontiguousarray(block[:, 0]) if channels == 1 else block.mean(axis=1, dtype=np.float32)
        buffer.append(mono if resampler is None else resampler.resample_chunk(mono))
    if decoded == 0:
        raise AudioFileError(f"{path}: holds no audio samples (0 frames could be decoded at {rate} Hz)")
    if resampler is not None:
        buffer.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return AudioFile(buffer.result(), rate, channels)


def _check_finite(path: Path, block: np.ndarray, offset: int) -> None:
    """Float files can hold NaN/Inf, which would poison every embedding: refuse them."""
    finite = np.isfinite(block)
    if not finite.all():
        frame = offset + int(np.argmin(finite.all(axis=1)))
        raise AudioFileError(
            f"{path}: contains NaN or Inf (first at frame {frame}); the file is damaged, clean or re-export it"
        )


class _Buffer:
    """A float32 array filled in place; grows only if the header under-counted the frames."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(1, capacity), np.float32)
        self._size = 0

    def append(self, chunk: np.ndarray) -> None:
        end = self._size + len(chunk)
        if end > len(self._data):
            grown = np.empty(max(end, math.ceil(len(self._data) * 1.5)), np.float32)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = chunk
        self._size = end

    def result(self) -> np.ndarray:
        """The samples; copied when the header over-counted so the spare capacity is freed."""
        filled = self._data[: self._size]
        return filled.copy() if self._size < len(self._data) // 2 else filled
