"""LogMelStats and measure(): the statistics equal a direct computation over the concatenated
log-mels, shards merge to the unsharded numbers, silence and bad clips are handled as documented."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import write_audio
from hear_byols.audio.inputs import InputFile
from hear_byols.distributed import Shard
from hear_byols.errors import InvalidAudioError, StatisticsError
from hear_byols.extract.shards import owns
from hear_byols.logmel.corpus_stats import LogMelStats
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.stats import measure
from hear_byols.stats.parts import merge_parts, part_path
from hear_byols.variants import variant_spec


def _log_mels(count: int = 5, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(64, 7 + 13 * i, generator=generator) * (1 + i) - 3 * i for i in range(count)]


def test_pooled_and_serab_equal_the_direct_computation() -> None:
    mels = _log_mels()
    stats = LogMelStats()
    for mel in mels:
        assert stats.add(mel)
    joined = torch.cat(mels, dim=-1).double()
    pooled = (joined.mean().item(), joined.std().item())
    serab = (np.mean([m.double().mean().item() for m in mels]), np.mean([m.double().std().item() for m in mels]))
    assert stats.pooled == pytest.approx(pooled, rel=1e-13, abs=0)
    assert stats.serab == pytest.approx(serab, rel=1e-13, abs=0)
    assert (stats.clips, stats.frames, stats.silent) == (5, sum(m.shape[-1] for m in mels), 0)
    assert stats.pooled[1] != pytest.approx(stats.serab[1], rel=1e-3)  # two different statistics


def test_merge_and_state_round_trip_are_exact() -> None:
    mels = _log_mels(6, seed=1)
    whole, first, second = LogMelStats(), LogMelStats(), LogMelStats()
    for i, mel in enumerate(mels):
        whole.add(mel)
        (first if i % 2 else second).add(mel)
    merged = LogMelStats.from_state(first.state())
    merged.merge(LogMelStats.from_state(second.state()))
    for got, want in zip(merged.pooled + merged.serab, whole.pooled + whole.serab):
        assert got == pytest.approx(want, rel=1e-12, abs=0)
    assert (merged.clips, merged.frames) == (whole.clips, whole.frames)


def test_constant_clips_are_counted_and_left_out() -> None:
    stats = LogMelStats()
    assert not stats.add(torch.full((64, 30), float(np.log(np.finfo(np.float32).eps)), dtype=torch.float32))
    with pytest.raises(StatisticsError, match="1 silent"):
        stats.pooled
    mel = _log_mels(1)[0]
    assert stats.add(mel)
    assert stats.silent == 1 and stats.clips == 1
    assert stats.pooled == pytest.approx((mel.double().mean().item(), mel.double().std().item()), rel=1e-13)


@pytest.mark.parametrize("bad, message", [
    (torch.full((64, 5), float("nan")), "NaN or Inf"),
    (torch.zeros(64), r"\(n_mels, T\)"),
    (torch.zeros(64, 5, dtype=torch.int32), "float"),
])
def test_bad_log_mels_are_refused(bad: torch.Tensor, message: str) -> None:
    with pytest.raises(InvalidAudioError, match=message):
        LogMelStats().add(bad)


def test_another_band_count_is_refused() -> None:
    stats = LogMelStats()
    stats.add(_log_mels(1)[0])
    with pytest.raises(InvalidAudioError, match="mel bands"):
        stats.add(torch.randn(80, 10))


def test_from_state_refuses_damaged_sums() -> None:
    state = LogMelStats().state() | {"clips": -1}
    with pytest.raises(StatisticsError, match="integers"):
        LogMelStats.from_state(state)


def _corpus(folder: Path) -> list[Path]:
    """Six noise clips of 0.5-2 s at two loudnesses, named so that both shards of 2 own some."""
    rng = np.random.default_rng(3)
    names = [f"clip{i}.wav" for i in range(40)]
    chosen = [n for n in names if owns(InputFile(Path(n), Path(n)), Shard(0, 2))][:3]
    chosen += [n for n in names if owns(InputFile(Path(n), Path(n)), Shard(1, 2))][:3]
    paths = []
    for i, name in enumerate(chosen):
        audio = rng.standard_normal(8000 * (1 + i % 4)) * (0.3 if i % 2 else 0.01)
        paths.append(write_audio(folder / name, audio.astype(np.float32), 16000, "FLOAT"))
    return paths


def test_measure_equals_the_frontend_over_the_files(tmp_path: Path) -> None:
    paths = _corpus(tmp_path)
    frontend = LogMelFrontend(variant_spec("default").frontend)
    clips = [torch.from_numpy(sf.read(p, dtype="float32")[0]) for p in sorted(paths)]
    mels = [frontend(clip) for clip in clips]
    stats = measure([tmp_path])
    joined = torch.cat(mels, dim=-1).double()
    assert stats.pooled == pytest.approx((joined.mean().item(), joined.std().item()), rel=1e-12)
    serab = (np.mean([m.double().mean().item() for m in mels]), np.mean([m.double().std().item() for m in mels]))
    assert stats.serab == pytest.approx(serab, rel=1e-12)
    assert stats.normalization() == list(stats.serab) and stats.default == "serab"
    assert stats.clips == 6 and stats.seconds == pytest.approx(sum(len(clip) for clip in clips) / 16000)


def test_two_shards_merged_equal_one_run(tmp_path: Path) -> None:
    _corpus(tmp_path / "data")
    whole = measure([tmp_path / "data"], workers=1)
    out = tmp_path / "stats.json"
    for index in range(2):
        part = measure([tmp_path / "data"], shard=f"{index}/2")
        assert part.shard == f"{index}/2" and 0 < part.clips < whole.clips
        part.write(part_path(out, Shard(index, 2)))
    merged = merge_parts(out)
    for name in ("pooled", "serab"):
        for got, want in zip(getattr(merged, name), getattr(whole, name)):
            assert got == pytest.approx(want, rel=1e-12, abs=0)
    assert (merged.clips, merged.frames, merged.corpus_sha256) == (whole.clips, whole.frames, whole.corpus_sha256)
    assert merged.seconds == pytest.approx(whole.seconds, rel=1e-12)


def test_a_corpus_of_silence_is_refused(tmp_path: Path) -> None:
    write_audio(tmp_path / "zeros.wav", np.zeros(16000, dtype=np.float32), 16000, "PCM_16")
    with pytest.raises(StatisticsError, match="1 silent"):
        measure([tmp_path])


@pytest.mark.parametrize("options, message", [
    ({"workers": -1}, "workers=-1"), ({"workers": True}, "workers=True"), ({"variant": "nope"}, "unknown variant"),
    ({"shard": "2/2"}, "0 <= I < N"),
])
def test_measure_refuses_bad_options_before_any_work(tmp_path: Path, options: dict, message: str) -> None:
    from hear_byols.errors import HearByolsError

    write_audio(tmp_path / "a.wav", np.zeros(16000, dtype=np.float32), 16000, "PCM_16")
    with pytest.raises(HearByolsError, match=message):
        measure([tmp_path], **options)
