"""Every attack of tests/helpers/hostile.py against every registered surface that supports it.

The contract (hostile.py): a hostile input gives a correct result, or exit 2 (usage error,
before any work) or 1 (failure) with a message and no traceback; never exit 0 with a wrong or
partial result. ``KNOWN_DEFECTS`` lists the cases that fail today because of a filed defect:
they are strict xfails, so a fix turns its entry into a failure and the entry is removed.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from helpers.hostile import (
    ATTACKS,
    LAUNCHER_ENVS,
    SIGNAL_STATUS,
    SURFACES,
    ApiSurface,
    Case,
    Disk,
    Surface,
    assert_clean,
    assert_no_traceback,
    assert_refused,
    bad_counts,
    bad_floats,
    chmod_stops_writes,
    copy_tree,
    mount_namespace,
    tree_digest,
    write_clips,
)


def _details(values, name: str, *options: str) -> list[str]:
    """The ``option=value`` ids of ``values(surface)`` (e.g. ``bad_counts``), for ``options`` (default: all)."""
    return [f"{o}={v}" for o, v in values(SURFACES[name]) if not options or o in options]


#: ``(surface, attack[, detail]) -> "issue <N> <item>: why it fails today"``: a case seen failing
#: because of a filed defect, marked strict xfail so that the fix's landing makes it fail until the
#: entry goes. Empty: every issue 17 case seen failing at 28c9118 (50 of them) passes now.
KNOWN_DEFECTS: dict[tuple[str, ...], str] = {}


def details(attack: str, name: str) -> list[str] | None:
    """The cases of ``attack`` on surface ``name`` (ids after the surface's), or None for one case."""
    per_attack = {"sigint": ["SIGINT"], "sigterm": ["SIGTERM"], "launcher_env": list(LAUNCHER_ENVS),
                  "bad_counts": _details(bad_counts, name), "bad_floats": _details(bad_floats, name)}
    return per_attack.get(attack)


def cases(attack: str) -> list[object]:
    """``pytest.param(surface name[, detail])`` for every surface that supports ``attack``, with
    the strict xfail of its KNOWN_DEFECTS entry."""
    params = []
    for name, surface in SURFACES.items():
        if attack not in surface.supports:
            continue
        for detail in details(attack, name) or [None]:
            key = (name, attack) if detail is None else (name, attack, detail)
            reason = KNOWN_DEFECTS.get(key) or KNOWN_DEFECTS.get((name, attack))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            if surface.slow:
                marks.append(pytest.mark.slow)
            values = (name,) if detail is None else (name, detail)
            params.append(pytest.param(*values, marks=marks, id=":".join(values)))
    return params


# ---------------------------------------------------------------------------------------------
# Session fixtures: one corpus, one reference run per (surface, inputs, options)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four distinct 16 kHz tones of 1-1.75 s."""
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(4):
        write_clips(folder, 1, seconds=1.0 + 0.25 * i, start=i)
    return folder


@pytest.fixture(scope="session")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 one-second clips: an embed run long enough to be interrupted part-way."""
    return write_clips(tmp_path_factory.mktemp("many"), 40)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory):
    """``reference(surface, case)``: the output of an undisturbed run on a copy of the case's
    inputs (with its extra options), computed once per distinct input."""
    root, made = tmp_path_factory.mktemp("references"), {}

    def make(surface: Surface, case: Case) -> Path:
        key = (surface.name, tree_digest(case.inputs), tuple(case.extra))
        if key not in made:
            where = root / f"{surface.name}-{len(made)}"
            copy = Case(where, copy_tree(case.inputs, where / "in"), where / "out", list(case.extra))
            assert_clean(surface.run(copy))
            made[key] = copy.out
        return made[key]

    return make


@pytest.fixture(scope="session")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Disk:
    """How this machine can make a folder read-only or full (probed once)."""
    return Disk(chmod=chmod_stops_writes(tmp_path_factory.mktemp("probe")), unshare=mount_namespace())


def prepare(name: str, tmp_path: Path, corpus: Path, many: Path | None = None) -> tuple[Surface, Case]:
    surface = SURFACES[name]
    return surface, surface.prepare(tmp_path, many if (many is not None and surface.many_files) else corpus)


# ---------------------------------------------------------------------------------------------
# The registry itself


@pytest.mark.parametrize("name", list(SURFACES))
def test_every_surface_declares_every_attack(name: str) -> None:
    """Support, or a reason: a surface is never skipped silently, and a new attack must be
    placed on every surface."""
    surface = SURFACES[name]
    supported, refused = set(surface.supports), set(surface.unsupported)
    assert not supported & refused, f"{name}: both supported and not: {supported & refused}"
    assert supported | refused == set(ATTACKS), f"{name}: undeclared attacks {set(ATTACKS) - supported - refused}"
    assert all(reason.strip() for reason in surface.unsupported.values())
    if "bad_counts" in supported:
        assert surface.counts, f"{name} supports bad_counts but declares no count option"
    if "bad_floats" in supported:
        assert surface.positive_floats or surface.floats, f"{name} supports bad_floats but declares no float option"


def test_known_defects_name_real_cases() -> None:
    """Each entry is a registered, supported case (a typo would leave its case unmarked)."""
    for key, reason in KNOWN_DEFECTS.items():
        assert key[0] in SURFACES and key[1] in SURFACES[key[0]].supports, key
        ids = details(key[1], key[0])
        assert len(key) == 2 or (ids is not None and key[2] in ids), key
        assert reason.startswith(("issue 17 ", "new: ")), reason


# ---------------------------------------------------------------------------------------------
# Concurrent runs


@pytest.mark.slow  # a race or an interruption: timing-bound, on the 40-file corpus for embed
@pytest.mark.parametrize("name", cases("concurrent"))
def test_concurrent(name: str, tmp_path: Path, corpus: Path, many_files: Path, reference) -> None:
    """A second run with other settings, started while the first works in the same output, is
    refused; the first finishes with its own correct result."""
    surface, case = prepare(name, tmp_path, corpus, many_files)
    if isinstance(surface, ApiSurface):
        assert surface.race(case) == []
        return
    first = surface.start(case)
    first.wait_until(lambda: surface.started(case))
    second = surface.run(case, *surface.variation)
    first_result = first.finish()
    assert_clean(first_result)
    assert_refused(second)
    surface.assert_correct(case, first_result, reference)


@pytest.mark.parametrize("name", cases("second_run"))
def test_second_run(name: str, tmp_path: Path, corpus: Path, reference) -> None:
    """A run with other settings into an output that holds a finished run is refused and leaves it intact."""
    surface, case = prepare(name, tmp_path, corpus)
    surface.first_run(case, reference)
    assert_refused(surface.run(case, *surface.variation))
    surface.assert_correct(case, None, reference)


# ---------------------------------------------------------------------------------------------
# Kill and resume


@pytest.mark.slow  # a race or an interruption: timing-bound, on the 40-file corpus for embed
@pytest.mark.parametrize("name, sig", cases("sigint") + cases("sigterm"))
def test_signal(name: str, sig: str, tmp_path: Path, corpus: Path, many_files: Path) -> None:
    """Ctrl-C exits 130, SIGTERM 143 (a handled signal, or death by it), without a traceback,
    keeping the work done."""
    surface, case = prepare(name, tmp_path, corpus, many_files)
    running = surface.start(case, *surface.long_args(case))
    assert running.wait_until(lambda: surface.has_progress(case, running.stderr)), f"done before the signal:\n{running.stderr}"
    running.process.send_signal(signal.Signals[sig])
    result = running.finish()
    assert result.rc in SIGNAL_STATUS[signal.Signals[sig]], f"{sig}: {result}"
    assert_no_traceback(result)
    assert surface.has_saved_progress(case), f"{sig} lost the work done: {result}"


@pytest.mark.slow  # a race or an interruption: timing-bound, on the 40-file corpus for embed
@pytest.mark.parametrize("name", cases("sigkill_resume"))
def test_sigkill_resume(name: str, tmp_path: Path, corpus: Path, many_files: Path, reference) -> None:
    """SIGKILL part-way, then the resume command: the result equals an uninterrupted run's."""
    surface, case = prepare(name, tmp_path, corpus, many_files)
    running = surface.start(case)
    running.wait_until(lambda: surface.resumable(case))
    running.process.kill()
    running.finish()
    result = surface.run(case, *surface.resume_args(case))
    assert_clean(result)
    surface.assert_correct(case, result, reference)


# ---------------------------------------------------------------------------------------------
# Changed, truncated, damaged and non-finite inputs


@pytest.mark.parametrize("name", cases("changed_input"))
def test_changed_input(name: str, tmp_path: Path, corpus: Path, reference) -> None:
    """An input replaced (same size) after a run: the rerun recomputes it, or refuses naming it."""
    surface, case = prepare(name, tmp_path, corpus)
    surface.first_run(case, reference)
    changed = surface.change_input(case)
    result = surface.run(case, *surface.resume_args(case))
    if surface.recomputes_changed_input:
        assert_clean(result)
        surface.assert_correct(case, result, reference)
    else:
        assert_refused(result, names=[os.fsdecode(changed.name)] if surface.names_changed_input else [])


@pytest.mark.parametrize("name", cases("truncated_input"))
def test_truncated_input(name: str, tmp_path: Path, corpus: Path) -> None:
    """A file whose header claims more than it holds is reported, never used as its readable part."""
    surface, case = prepare(name, tmp_path, corpus)
    bad = surface.plant_truncated(case)
    result = surface.run(case)
    assert_no_traceback(result)
    assert surface.reported_unusable(case, result, bad), f"{bad.name} not reported as unusable: {result}"


@pytest.mark.parametrize("name", cases("damaged_state"))
def test_damaged_state(name: str, tmp_path: Path, corpus: Path) -> None:
    """A damaged index, checkpoint or weight file is refused, named, and kept for inspection."""
    surface, case = prepare(name, tmp_path, corpus)
    bad = surface.damage_state(case)
    assert_refused(surface.run(case), names=[bad.name])
    assert bad.exists()


@pytest.mark.parametrize("name", cases("non_finite_input"))
def test_non_finite_input(name: str, tmp_path: Path, corpus: Path) -> None:
    """NaN samples, samples that overflow the spectrogram, NaN weights: reported, never a NaN result."""
    surface, case = prepare(name, tmp_path, corpus)
    bad = surface.plant_non_finite(case)
    result = surface.run(case)
    assert_no_traceback(result)
    for path in bad:
        assert surface.reported_unusable(case, result, path), f"{path.name} not reported as unusable: {result}"


@pytest.mark.parametrize("name", cases("silence"))
def test_silence(name: str, tmp_path: Path, corpus: Path) -> None:
    """Digital silence has one defined embedding, whatever its length and batch (or is refused
    where it cannot be learnt from)."""
    surface, case = prepare(name, tmp_path, corpus)
    got = surface.silence(case)
    if not isinstance(got, list):
        assert_refused(got)
        return
    scale = max(float(np.abs(e).max()) for e in got)
    for embedding in got[1:]:
        assert np.allclose(embedding, got[0], rtol=0, atol=1e-5 * scale), float(np.abs(embedding - got[0]).max() / scale)


@pytest.mark.parametrize("name", cases("non_utf8_name"))
def test_non_utf8_name(name: str, tmp_path: Path, corpus: Path, reference) -> None:
    """A file named with bytes that are not UTF-8 (b'caf\\xe9.wav') works like any other."""
    surface, case = prepare(name, tmp_path, corpus)
    path = surface.plant_non_utf8(case)
    result = surface.run(case)
    assert_clean(result)
    assert surface.used(case, path), f"{os.fsencode(path.name)!r} is missing from the result"
    surface.assert_correct(case, result, reference)


# ---------------------------------------------------------------------------------------------
# Inherited launcher variables


@pytest.mark.parametrize("name, launcher", cases("launcher_env"))
def test_launcher_env(name: str, launcher: str, tmp_path: Path, corpus: Path, reference) -> None:
    """Variables left by torchrun or a SLURM array, without that launcher: everything is done (and
    a sharding command names the shard it used), or the run is refused; never a silent fraction."""
    surface, case = prepare(name, tmp_path, corpus)
    result = surface.run(case, env=LAUNCHER_ENVS[launcher])
    if result.rc != 0:
        assert_refused(result)
        return
    assert_clean(result)
    surface.assert_correct(case, result, reference)
    if surface.shards:
        assert "shard" in result.stderr.lower(), f"the shard used is not named: {result}"


# ---------------------------------------------------------------------------------------------
# Full or read-only disks


@pytest.mark.parametrize("name", cases("read_only_out"))
def test_read_only_out(name: str, tmp_path: Path, corpus: Path, disk: Disk, reference) -> None:
    """A read-only output folder: refused with a message (a command that only reads works)."""
    if disk.read_only_reason:
        pytest.skip(disk.read_only_reason)
    surface, case = prepare(name, tmp_path, corpus)
    case.out.mkdir(exist_ok=True)
    before = tree_digest(case.out)
    result = disk.run_read_only(case.out, surface.command(case))
    if surface.reads_only:
        assert_clean(result)
        surface.assert_correct(case, result, reference)
    else:
        assert_refused(result)
    assert tree_digest(case.out) == before


@pytest.mark.parametrize("name", cases("out_is_file"))
def test_out_is_file(name: str, tmp_path: Path, corpus: Path) -> None:
    """An output path that is a regular file: refused, the file untouched."""
    surface, case = prepare(name, tmp_path, corpus)
    if case.out.is_dir():
        case.out.rename(case.root / "out.dir")
    case.out.write_text("not a folder\n")
    assert_refused(surface.run(case))
    assert case.out.read_text() == "not a folder\n"


@pytest.mark.parametrize("name", cases("disk_full"))
def test_disk_full(name: str, tmp_path: Path, corpus: Path, disk: Disk, reference) -> None:
    """ENOSPC part-way: a message, no traceback, and nothing half-written that a rerun would trust."""
    if disk.full_reason:
        pytest.skip(disk.full_reason)
    surface, case = prepare(name, tmp_path, corpus)
    result = disk.run_full(case.out, surface.disk_room_kb, surface.command(case))
    assert_refused(result)
    surface.assert_recoverable(case, reference)


# ---------------------------------------------------------------------------------------------
# Zero, negative and non-finite numbers


@pytest.mark.parametrize("name, option", cases("bad_counts") + cases("bad_floats"))
def test_bad_number(name: str, option: str, tmp_path: Path, corpus: Path) -> None:
    """A count below its minimum, a NaN/Inf float, or a non-positive one that must be positive:
    exit 2 before any work (no output folder), naming the option."""
    surface, case = prepare(name, tmp_path, corpus)
    flag, value = option.split("=")
    result = surface.run(case, flag, value)
    assert_refused(result, codes=(2,), names=[flag], no_out=case.out)
