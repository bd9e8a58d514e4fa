"""Real speech for the small tasks, synthesised offline with espeak-ng (a Debian package).

espeak-ng writes 22.05 kHz WAV files; they are resampled to 16 kHz with soxr, which is
deterministic, so the same text, voice, speed and pitch always give the same samples.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from hear_byols.errors import HearByolsError

ESPEAK = "espeak-ng"
SAMPLE_RATE = 16000


class SpeechSynthesisError(HearByolsError, RuntimeError):
    """espeak-ng is missing or failed."""


def require_espeak() -> str:
    """Path of espeak-ng, or a clear error saying how to install it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise SpeechSynthesisError(
            f"{ESPEAK} is not installed; the small speech tasks need it: run `make system-deps` "
            "(apt-get install espeak-ng)"
        )
    return path


def synthesize(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice`` (e.g. ``en-us+f2``) at ``speed`` words/minute and
    ``pitch`` (0-99), as float32 mono at 16 kHz with leading/trailing silence removed."""
    espeak = require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        result = subprocess.run(
            [espeak, "-w", str(wav), "-v", voice, "-s", str(speed), "-p", str(pitch), text],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not wav.is_file():
            raise SpeechSynthesisError(f"{ESPEAK} failed for voice {voice!r}: {result.stderr.strip()}")
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=False)
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    return trim_silence(audio)


def trim_silence(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop the leading and trailing samples quieter than ``threshold`` (event onsets must be exact)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        raise SpeechSynthesisError("espeak-ng produced silence")
    return audio[loud[0] : loud[-1] + 1]
