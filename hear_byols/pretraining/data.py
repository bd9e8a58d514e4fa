"""Training data: which files, which 0.95 s crop of each, in which order on which rank.

Everything random here is a pure function of ``(seed, epoch, index)``, never of a worker's or
a rank's generator, so the crops and their order do not depend on ``--workers`` and a resumed
run reads exactly the batches the interrupted one would have read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from hear_byols.audio.files import read_audio_16k
from hear_byols.audio.inputs import expand_inputs
from hear_byols.errors import HearByolsError, UsageError
from hear_byols.weights import sha256_of

#: 0.95 s at 16 kHz: the recipe's crop, 96 log-mel columns.
CROP_SAMPLES = 15200
LIST_SUFFIXES = (".txt", ".lst")
#: Files named in an error message at most (the others are counted).
NAMED_FILES = 5


def list_audio(arguments: list[str]) -> list[Path]:
    """Audio files named by folders (recursive), globs, files, or file lists (``.txt``/``.lst``:
    one path per line, relative to the list's folder), de-duplicated, in argument order."""
    expanded: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()]
            expanded.extend(str(path.parent / line) for line in lines if line and not line.startswith("#"))
        else:
            expanded.append(argument)
    files = [item.path for item in expand_inputs(expanded)] if expanded else []
    if not files:
        raise UsageError("no audio files to train on")
    return files


def file_fingerprint(path: Path) -> str:
    """What the manifest records of one file: its size and the sha256 of its bytes (a file
    rewritten to the same size and mtime changes it), or why it cannot be read."""
    try:
        return f"{path.stat().st_size}\t{sha256_of(path)}"
    except OSError as exc:
        return f"unreadable\t{exc.strerror}"


def manifest_hash(files: list[Path], fingerprints: list[str]) -> str:
    """sha256 over the files' names (as bytes: any name the OS allows) and fingerprints."""
    digest = hashlib.sha256()
    for path, fingerprint in zip(files, fingerprints, strict=True):
        digest.update(os.fsencode(path) + b"\t" + fingerprint.encode() + b"\n")
    return digest.hexdigest()


def name_files(files: list[Path], indices: list[int], reasons: dict[int, str] | None = None) -> str:
    """``a.wav, b.wav and 3 more`` (with ``(reason)`` after each when given): the first
    ``NAMED_FILES`` of ``indices``, for error messages."""
    shown = sorted(indices)[:NAMED_FILES]
    reasons = reasons or {}
    names = ", ".join(f"{files[i]} ({reasons[i].removeprefix(f'{files[i]}: ')})" if i in reasons else str(files[i])
                      for i in shown)
    more = len(indices) - len(shown)
    return names + (f" and {more} more" if more > 0 else "")


def take_crop(samples: np.ndarray, mode: str, seed: int, epoch: int, index: int) -> np.ndarray:
    """The recipe's crop: a shorter clip is zero-padded at both ends (as the original did); a
    longer one is cut at a random offset (``random``) or at its start (``first``: what the 2021
    runs actually did, since the original's offset formula never came out positive)."""
    short = CROP_SAMPLES - len(samples)
    if short >= 0:
        return np.pad(samples, (short // 2, short - short // 2))
    offset = 0
    if mode == "random":
        offset = int(np.random.default_rng([seed, epoch + 1, index]).integers(0, 1 - short))
    return samples[offset : offset + CROP_SAMPLES]


class TargetSource(Protocol):
    """An objective's targets of a crop (``objectives``): ``source(file index, crop) -> (size,)`` float32."""

    size: int

    def __call__(self, index: int, crop: np.ndarray) -> np.ndarray: ...


@dataclass
class Item:
    """One crop (or why its file failed) with its index and optional targets."""

    index: int
    crop: np.ndarray | None
    targets: np.ndarray | None = None
    error: str | None = None


class CropDataset(Dataset):
    """``dataset[i]`` -> the current epoch's crop of file ``i`` (an unreadable file yields an
    ``Item`` with its error instead of stopping the run). ``targets(index, crop)`` supplies
    the objective's targets when set."""

    def __init__(self, files: list[Path], mode: str, seed: int,
                 targets: TargetSource | None = None) -> None:
        self.files, self.mode, self.seed, self.targets = files, mode, seed, targets
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Item:
        try:
            samples = read_audio_16k(self.files[index]).samples
        except (HearByolsError, OSError) as exc:
            return Item(index, None, error=str(exc))
        crop = take_crop(samples, self.mode, self.seed, self.epoch, index)
        return Item(index, crop, None if self.targets is None else self.targets(index, crop))


@dataclass
class Batch:
    """Stacked crops ``(B, 15200)``, their file indices and targets, and the files that failed."""

    crops: torch.Tensor
    indices: list[int]
    targets: torch.Tensor | None
    failed: list[tuple[int, str]]


def collate(items: list[Item]) -> Batch:
    good = [item for item in items if item.crop is not None]
    crops = torch.from_numpy(np.stack([item.crop for item in good])) if good else torch.zeros(0, CROP_SAMPLES)
    targets = None
    if good and good[0].targets is not None:
        targets = torch.from_numpy(np.stack([item.targets for item in good]))
    return Batch(crops, [item.index for item in good], targets, [(item.index, item.error or "") for item in items if item.crop is None])


def epoch_batches(n_files: int, batch: int, world: int, rank: int, seed: int, epoch: int) -> list[list[int]]:
    """This rank's micro-batches of one epoch: a seeded permutation, cut to whole global
    batches, dealt round-robin to the ranks (like DistributedSampler with drop_last)."""
    order = torch.randperm(n_files, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    usable = n_files // (batch * world) * batch * world
    mine = order[rank:usable:world]
    return [mine[start : start + batch] for start in range(0, len(mine), batch)]
