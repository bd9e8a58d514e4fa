"""Audio files generated on the fly for the audio-reading and command-line tests."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(sample_rate: int, seconds: float, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A sine per channel (frequency ``freq * (c + 1)``, amplitude 0.5), float64 ``(n, channels)``."""
    t = np.arange(round(sample_rate * seconds)) / sample_rate
    return np.stack([0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], axis=1)


def write_audio(path: Path, data: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``data`` with soundfile (format from the extension), creating the folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype=subtype)
    return path


def write_bad_files(directory: Path) -> dict[str, Path]:
    """An empty file, text named .wav, a truncated FLAC and a 20 ms clip, keyed by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "empty": directory / "empty.wav",
        "text": directory / "notes.wav",
        "corrupt": directory / "cut.flac",
        "short": write_audio(directory / "short.wav", tone(44100, 0.02), 44100),
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("these are meeting notes, not audio\n")
    files["corrupt"].write_bytes(_flac_bytes(tone(16000, 1.0), 16000)[:300])
    return files


def _flac_bytes(data: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sample_rate, format="FLAC")
    return buffer.getvalue()
