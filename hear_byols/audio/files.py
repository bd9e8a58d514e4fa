"""Read an audio file as the float32 16 kHz mono signal the models expect.

The file is decoded in blocks, each block is downmixed (mean of the channels) and streamed
through a soxr resampler into a buffer sized from the frame count, so only the 16 kHz mono
result is ever held whole: a 10-minute 48 kHz stereo file never sits in memory at full rate.
A file already at 16 kHz mono is copied sample for sample (no resampler touches it), so the
command line and the Python API see the very same numbers.

A file cut short (an interrupted copy) is refused, never read as its readable part: the
container is checked first (``complete.py``), and the frames decoded must reach the count the
header declares (FLAC, MP3 with a Xing/Info header). An MP3 must also decode the samples its
frames hold (``mpeg.py``): libsndfile stops at an estimated length for some that are complete.
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

from hear_byols.audio.complete import CUT_SHORT, check_complete
from hear_byols.audio.mpeg import count_mpeg_frames
from hear_byols.errors import AudioFileError

TARGET_RATE = 16000
#: soxr's "very high quality" preset: linear phase, pass band to 0.95 of Nyquist, 175 dB rejection.
RESAMPLE_QUALITY = "VHQ"
#: Frames decoded per block: bounds the full-rate data held at once (~0.75 MB for 48 kHz stereo).
BLOCK_FRAMES = 1 << 16
#: libsndfile's frame count for a stream that does not declare its length (SF_COUNT_MAX), e.g. a
#: FLAC whose STREAMINFO says 0 samples, as encoders writing to a pipe leave it.
UNKNOWN_LENGTH = 2**63 - 1
#: Samples an MP3's frames may hold beyond what is decoded: the Xing/Info frame, the encoder's
#: delay and padding that gapless decoding trims (under 3 frames), with a frame to spare.
MPEG_SLACK = 4 * 1152
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
    check_complete(path)
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
    declared = None if audio.frames == UNKNOWN_LENGTH else audio.frames
    buffer = _Buffer(resampled_length(declared or BLOCK_FRAMES, rate))
    resampler = None if rate == TARGET_RATE else soxr.ResampleStream(rate, TARGET_RATE, 1, "float32", RESAMPLE_QUALITY)
    block = np.empty((BLOCK_FRAMES, channels), np.float32)
    decoded = 0
    # audio.blocks() would yield whole blocks past the end of what libsndfile could read
    # (uninitialised memory for a cut MP3); read() returns only the frames it read.
    while len(frames := audio.read(out=block)):
        _check_finite(path, frames, decoded)
        decoded += len(frames)
        mono = np.ascontiguousarray(frames[:, 0]) if channels == 1 else frames.mean(axis=1, dtype=np.float32)
        buffer.append(mono if resampler is None else resampler.resample_chunk(mono))
    if decoded == 0:
        raise AudioFileError(f"{path}: holds no audio samples (0 frames could be decoded at {rate} Hz)")
    _check_length(path, audio.format, declared, decoded)
    if resampler is not None:
        buffer.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return AudioFile(buffer.result(), rate, channels)


def _check_length(path: Path, audio_format: str, declared: int | None, decoded: int) -> None:
    """Every frame the file holds was decoded: as many as its header declares or, for an MP3 (whose
    header count may be libsndfile's estimate, and where libsndfile stops), as many as its frames hold."""
    frames = count_mpeg_frames(path) if audio_format == "MP3" else None
    if frames is not None and frames.last_frame_cut:
        raise AudioFileError(f"{path}: truncated: its last MPEG frame is incomplete, {CUT_SHORT}")
    if declared is not None and decoded < declared and (frames is None or frames.declares_length):
        raise AudioFileError(
            f"{path}: truncated: its header declares {declared} frames, only {decoded} could be decoded "
            f"({100 * decoded / declared:.0f}%), {CUT_SHORT}"
        )
    if frames is not None and decoded + MPEG_SLACK < frames.samples:
        raise AudioFileError(
            f"{path}: only {decoded} of the {frames.samples} samples its MPEG frames hold can be read (libsndfile "
            "takes the length from a Xing/Info header, or estimates it without one: a variable-bitrate MP3 without "
            "that header, or MP3s joined into one file); re-encode it as one file (FLAC or WAV) and embed that"
        )


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
