"""The timestamp framing reads the half-frame zero padding without copying the clip."""
from __future__ import annotations

import itertools

import torch

from hear_byols.timestamps.framing import PaddedAudio, frame_grid, frames_view, pad_for_frames


def test_padded_audio_reads_like_an_explicit_zero_padded_copy() -> None:
    """Every slice (also ones reaching past the padding) and gathers equal the padded copy's."""
    audio = torch.randn(2, 7, generator=torch.Generator().manual_seed(0))
    padded = PaddedAudio(audio, left=3, right=4)
    margin = 5  # reads beyond the padding are zeros too
    explicit = torch.nn.functional.pad(audio, (3 + margin, 4 + margin))
    assert padded.length == 14
    for begin, end in itertools.combinations_with_replacement(range(-margin, padded.length + margin + 1), 2):
        assert torch.equal(padded.slice(begin, end), explicit[:, begin + margin : end + margin]), (begin, end)
    index = torch.arange(padded.length).reshape(2, 7).flip(-1)
    assert torch.equal(padded.gather(index), explicit[:, index + margin])


def test_pad_for_frames_holds_no_copy_of_the_clip() -> None:
    audio = torch.randn(1, 32000)
    padded = pad_for_frames(audio, frame_grid(32000, 16000, 1000.0, 50.0))
    assert padded.audio.data_ptr() == audio.data_ptr()
    assert (padded.left, padded.right) == (8000, 8000)


def test_frames_view_matches_frames_cut_from_the_padded_copy() -> None:
    """Integral steps (strided view of the span) and fractional steps (gather) alike."""
    audio = torch.randn(2, 5000, generator=torch.Generator().manual_seed(1))
    for hop_ms in (50.0, 12.53):
        grid = frame_grid(audio.shape[1], 16000, 100.0, hop_ms)
        explicit = torch.nn.functional.pad(audio, (grid.pad_left, grid.pad_right))
        first, count = 2, grid.n_frames - 3
        expected = torch.stack([explicit[:, s : s + grid.frame_size] for s in grid.starts[first : first + count]], 1)
        assert torch.equal(frames_view(pad_for_frames(audio, grid), grid, first, count), expected)
