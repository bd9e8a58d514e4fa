"""Hostile inputs for every entry point: the attacks, the contract, and a registry of surfaces.

A *surface* is one entry point (``hear-byols embed``, ``pretrain``, the Python API, ...). It
says how to make a small valid input in a folder, how to run itself on it, how to tell a
correct result, which of its options are counts or floats, and how to plant each kind of bad
input. ``tests/hostile/test_hostile.py`` runs every attack in ``ATTACKS`` against every surface in
``SURFACES`` that supports it, checking one contract (``assert_refused``, ``assert_clean``):

- a hostile input never gives exit 0 with a wrong or partial result;
- it gives a correct result, or exit 2 (usage error, before any work: no output folder) or 1
  (failure), with a message on stderr and never a Python traceback.

Adding an entry point is registering one ``Surface``: it gets every attack it declares, and
must give a reason for each one it does not (``test_every_surface_declares_every_attack``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from helpers.audio import tone, write_audio

#: Every attack, by name. A surface supports each one or says why not (``Surface.unsupported``).
ATTACKS = (
    "concurrent",          # a second run with other settings starts while the first works in the same output
    "second_run",          # the same, one after the other
    "sigint",              # Ctrl-C: exit 130, work done kept
    "sigterm",             # SLURM time limit / scancel: exit 143, work done kept
    "sigkill_resume",      # SIGKILL, then the resume command: equals an uninterrupted run
    "changed_input",       # an input replaced between runs: recomputed (or refused), never the stale result
    "truncated_input",     # a file cut short (header claims more than the data holds): never used silently
    "damaged_state",       # the surface's own state file (index, checkpoint, weights) damaged: refused, named
    "non_finite_input",    # NaN or huge values in the input: refused or reported, never a NaN result
    "silence",             # digital silence: one defined result, independent of length and batch
    "launcher_env",        # inherited RANK/WORLD_SIZE or SLURM_ARRAY_*: everything, or an error; the shard named
    "non_utf8_name",       # a file name that is not UTF-8: works
    "read_only_out",       # the output folder is read-only: refused with a message
    "out_is_file",         # the output path is a regular file: refused with a message
    "disk_full",           # ENOSPC while writing: a message, and nothing half-written a rerun would trust
    "bad_counts",          # zero and negative counts: exit 2 before any work
    "bad_floats",          # NaN/Inf (and non-positive where positive is required) floats: exit 2 before any work
)

TRACEBACK = "Traceback (most recent call last)"
#: Exit statuses that mean "refused": 2 usage error (before any work), 1 failure.
REFUSED = (1, 2)
#: Shell-visible exit statuses of a process ended by a signal: handled (128 + n) or died of it (-n).
SIGNAL_STATUS = {signal.SIGINT: (130, -signal.SIGINT), signal.SIGTERM: (143, -signal.SIGTERM)}
#: Launcher environments a job script may leak into a command that was not started by that launcher.
LAUNCHER_ENVS: Mapping[str, Mapping[str, str]] = {
    "torchrun": {"RANK": "0", "WORLD_SIZE": "8"},
    "slurm_array": {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "8"},
}
RUN_TIMEOUT_S = 420.0
SETUP_FAILED = 97  # exit status of a disk set-up script that failed before running the command
NON_UTF8_NAME = os.fsdecode(b"caf\xe9.wav")  # 'café' in Latin-1: not UTF-8, a surrogate-escaped str


# ---------------------------------------------------------------------------------------------
# Running a command and the contract


@dataclass
class Result:
    """What a run gave: exit status, stderr (decoded with replacement) and stdout."""

    rc: int
    stderr: str
    stdout: str = ""

    def __str__(self) -> str:
        return f"exit {self.rc}; stderr tail:\n{self.stderr[-3000:]}"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child: one thread, offline, no launcher variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_"))}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "HEAR_BYOLS_WEIGHTS_DIR",
                 "HEAR_BYOLS_MIRROR"):
        env.pop(name, None)  # launcher variables, and weights other than the package's shipped default512
    env.update({"OMP_NUM_THREADS": "1", "HEAR_BYOLS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def cli_command(args: Sequence[str | Path]) -> list[str | Path]:
    """``hear-byols ARGS`` as this interpreter runs it."""
    return [sys.executable, "-m", "hear_byols.cli", *args]


def run_command(command: Sequence[str | Path], env: Mapping[str, str] | None = None,
                cwd: Path | None = None, timeout: float = RUN_TIMEOUT_S) -> Result:
    """Run ``command`` to its end in ``child_env(env)``."""
    done = subprocess.run(list(command), capture_output=True, env=child_env(env), cwd=cwd, timeout=timeout)
    return Result(done.returncode, done.stderr.decode("utf-8", "replace"), done.stdout.decode("utf-8", "replace"))


class Running:
    """A command started in the background; its stderr is collected as it comes."""

    def __init__(self, command: Sequence[str | Path], cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env=child_env(), cwd=cwd)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):  # type: ignore[union-attr]
            self._chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_until(self, done: Callable[[], bool], timeout: float = RUN_TIMEOUT_S) -> bool:
        """Wait until ``done()``; False if the process ended first without it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            if self.process.poll() is not None:
                return done()
            time.sleep(0.02)
        raise AssertionError(f"still waiting after {timeout} s; stderr:\n{self.stderr[-2000:]}")

    def finish(self, timeout: float = RUN_TIMEOUT_S) -> Result:
        rc = self.process.wait(timeout)
        self._reader.join(10)
        return Result(rc, self.stderr)


def assert_no_traceback(result: Result) -> None:
    assert TRACEBACK not in result.stderr, f"a raw Python traceback: {result}"


def assert_refused(result: Result, *, codes: Sequence[int] = REFUSED, names: Sequence[str] = (),
                   no_out: Path | None = None) -> None:
    """Exit in ``codes`` with a message on stderr (naming each of ``names``), no traceback; with
    ``no_out``, a usage error must come before any work: that path was not created."""
    assert result.rc in codes, f"expected exit in {tuple(codes)}: {result}"
    assert_no_traceback(result)
    assert result.stderr.strip(), f"refused without a message: {result}"
    for name in names:
        assert name in result.stderr, f"the message does not name {name!r}: {result}"
    if no_out is not None:
        assert not os.path.lexists(no_out), f"{no_out} was created by a run refused as a usage error: {result}"


def assert_clean(result: Result) -> None:
    """Exit 0 with no traceback (tracebacks printed by a 'successful' run count too)."""
    assert result.rc == 0, f"expected success: {result}"
    assert_no_traceback(result)


# ---------------------------------------------------------------------------------------------
# Inputs


def write_clips(folder: Path, count: int, seconds: float = 1.0, start: int = 0) -> Path:
    """``count`` distinct 16 kHz PCM_16 tones ``clipNNN.wav`` of ``seconds`` each."""
    for i in range(start, start + count):
        write_audio(folder / f"clip{i:03d}.wav", tone(16000, seconds, freq=180.0 + 37 * i), 16000, "PCM_16")
    return folder


def write_truncated_wav(path: Path, seconds: float = 2.0) -> Path:
    """A WAV whose header claims ``seconds`` of audio while only half of the data is there: an
    interrupted copy."""
    write_audio(path, tone(16000, seconds, freq=523.0), 16000, "PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_loud_float_wav(path: Path, peak: float = 1e20) -> Path:
    """A float WAV peaking at ``peak``: finite samples whose spectrogram overflows float32."""
    return write_audio(path, tone(16000, 1.0) * (peak / 0.5), 16000, "FLOAT")


def write_nan_float_wav(path: Path) -> Path:
    data = tone(16000, 1.0)
    data[4000] = np.nan
    return write_audio(path, data, 16000, "FLOAT")


def cut_tail(path: Path, size: int = 40) -> Path:
    """Cut the last ``size`` bytes off ``path``, as an interrupted write would."""
    path.write_bytes(path.read_bytes()[:-size])
    return path


def replace_same_size(path: Path) -> None:
    """Re-encode ``path`` with other audio of exactly the same size, as a re-export would."""
    size = path.stat().st_size
    info = sf.info(str(path))
    write_audio(path, tone(info.samplerate, info.frames / info.samplerate, freq=911.0), info.samplerate, info.subtype)
    assert path.stat().st_size == size
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def tree_digest(folder: Path) -> str:
    """sha256 over the relative names and bytes of every file below ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(os.fsencode(path.relative_to(folder)) + b"\0" + path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Disks: read-only and full, for real (root ignores chmod, so a mount namespace is used there)


def chmod_stops_writes(folder: Path) -> bool:
    """Whether a 0o555 folder refuses a new file here (not as root: ``os.access`` lies for root)."""
    probe = folder / "chmod-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        (probe / "x").touch()
    except PermissionError:
        return True
    else:
        return False
    finally:
        probe.chmod(0o755)
        shutil.rmtree(probe)


def mount_namespace() -> tuple[str, ...] | None:
    """The ``unshare`` prefix whose private mount namespace may mount a tmpfs here: as root with
    CAP_SYS_ADMIN, else in a user namespace (``-r``); None where neither is allowed."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (("unshare", "-m", "--propagation", "private"), ("unshare", "-r", "-m", "--propagation", "private")):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
                               capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def _sh(words: Sequence[str | Path]) -> str:
    """``words`` as one shell command line."""
    return " ".join(shlex.quote(os.fsdecode(w)) for w in words)


@dataclass(frozen=True)
class Disk:
    """How this machine can make a folder read-only or full for one command (run in the folder's
    parent, the case's root)."""

    chmod: bool
    unshare: tuple[str, ...] | None

    @property
    def read_only_reason(self) -> str | None:
        if self.chmod or self.unshare:
            return None
        return "running as root without CAP_SYS_ADMIN: neither chmod nor a read-only mount stops writes here"

    @property
    def full_reason(self) -> str | None:
        return None if self.unshare else "no mount namespace (unshare -m, or -r -m) to put the output on a tiny tmpfs"

    def run_read_only(self, folder: Path, command: Sequence[str | Path], env: Mapping[str, str] | None = None) -> Result:
        """``command`` with ``folder`` read-only (chmod 0o555, else a read-only bind mount)."""
        if self.chmod:
            folder.chmod(0o555)
            try:
                return run_command(command, env, cwd=folder.parent)
            finally:
                folder.chmod(0o755)
        f = _sh([folder])
        script = f"mount --bind {f} {f} && mount -o remount,bind,ro {f} || exit {SETUP_FAILED}; exec {_sh(command)}"
        assert self.unshare is not None
        result = run_command([*self.unshare, "sh", "-c", script], env, cwd=folder.parent)
        assert result.rc != SETUP_FAILED, f"the read-only folder could not be set up: {result}"
        return result

    def run_full(self, folder: Path, room_kb: int, command: Sequence[str | Path],
                 env: Mapping[str, str] | None = None) -> Result:
        """``command`` with ``folder`` on a tmpfs that holds ``folder``'s files and ``room_kb`` more;
        what the command left there is copied back afterwards, for inspection and a rerun."""
        folder.mkdir(parents=True, exist_ok=True)
        used = sum(-(-p.stat().st_size // 4096) * 4 for p in folder.rglob("*") if p.is_file())
        keep = folder.with_name(folder.name + ".before")
        folder.rename(keep)
        folder.mkdir()
        f, k = _sh([folder]), _sh([keep])
        script = (f"mount -t tmpfs -o size={used + room_kb}k tmpfs {f} && cp -a {k}/. {f}/ || exit {SETUP_FAILED}; "
                  f"{_sh(command)}; rc=$?; rm -rf {k}; mkdir {k}; cp -a {f}/. {k}/; umount {f}; exit $rc")
        assert self.unshare is not None
        result = run_command([*self.unshare, "sh", "-c", script], env, cwd=folder.parent)
        folder.rmdir()
        keep.rename(folder)
        assert result.rc != SETUP_FAILED, f"the full disk could not be set up: {result}"
        return result

# ---------------------------------------------------------------------------------------------
# Surfaces

#: ``reference(surface, case)``: the output of an undisturbed run on a copy of the case's inputs.
Reference = Callable[["Surface", "Case"], Path]


@dataclass
class Case:
    """One attack's workspace: the inputs folder, the output path, and extra options for every run."""

    root: Path
    inputs: Path
    out: Path
    extra: list[str] = field(default_factory=list)


class Surface:
    """An entry point under attack: hooks that the attacks in test_hostile.py call.

    ``supports`` and ``unsupported`` (attack -> reason) together must name every attack in
    ``ATTACKS``. The defaults fit a ``hear-byols`` command that reads audio files from
    ``case.inputs`` and writes ``case.out``.
    """

    name: str = ""
    supports: tuple[str, ...] = ()
    unsupported: Mapping[str, str] = {}
    #: count options and their minimum: ``bad_counts`` tries ``minimum - 1`` and ``-1``
    counts: Mapping[str, int] = {}
    #: float options that must be finite and > 0 (0, -1, nan, inf are tried) / only finite (nan, inf)
    positive_floats: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()
    #: options giving other settings: a second run with them into a used output must be refused
    variation: tuple[str, ...] = ()
    #: whether each of its runs costs seconds of CPU (its attacks are then marked slow)
    slow: bool = False
    #: whether it splits work into shards (then it must name on stderr the shard it used)
    shards: bool = False
    #: whether the attacks that need a long run (signals, kill) use many input files
    many_files: bool = False
    #: what a rerun does with a changed input: recompute it, or refuse naming it
    recomputes_changed_input: bool = True
    #: whether a refusal of a changed input must name the input
    names_changed_input: bool = False
    #: whether it works on a read-only output folder (it only reads)
    reads_only: bool = False
    #: tmpfs room (KiB) beyond the output's existing files for ``disk_full``: enough to start, too little to finish
    disk_room_kb: int = 8

    # -- running
    def prepare(self, root: Path, corpus: Path) -> Case:
        """A valid input for this surface under ``root``, from the session's ``corpus`` of clips."""
        return Case(root, copy_tree(corpus, root / "in"), root / "out")

    def args(self, case: Case) -> list[str | Path]:
        raise NotImplementedError

    def command(self, case: Case, *extra: str) -> list[str | Path]:
        return cli_command([*self.args(case), *case.extra, *extra])

    def run(self, case: Case, *extra: str, env: Mapping[str, str] | None = None) -> Result:
        return run_command(self.command(case, *extra), env, cwd=case.root)

    def start(self, case: Case, *extra: str) -> Running:
        return Running(self.command(case, *extra), cwd=case.root)

    def first_run(self, case: Case, reference: Reference) -> None:
        """Leave an undisturbed run's result in ``case.out``."""
        assert_clean(self.run(case))

    def resume_args(self, case: Case) -> tuple[str, ...]:
        """Options that continue a killed or failed run (none: rerunning resumes)."""
        return ()

    def long_args(self, case: Case) -> tuple[str, ...]:
        """Options that make a run last long enough to be interrupted."""
        return ()

    def has_progress(self, case: Case, stderr: str) -> bool:
        """Whether a running run (its stderr so far) has done some work: signals are sent after it has."""
        raise NotImplementedError

    def resumable(self, case: Case) -> bool:
        """Whether a running run has kept some work on disk that a resume would use: SIGKILL comes after."""
        return self.has_progress(case, "")

    def has_saved_progress(self, case: Case) -> bool:
        """Whether an interrupted run kept (on disk, resumable) the work it had done."""
        return self.resumable(case)

    def started(self, case: Case) -> bool:
        """Whether a run has begun working in ``case.out`` (a second run is then started beside it)."""
        return self.resumable(case)

    # -- results
    def assert_same(self, got: Path, expected: Path) -> None:
        """``got`` holds the same complete result as ``expected``."""
        raise NotImplementedError

    def assert_correct(self, case: Case, result: Result, reference: Reference) -> None:
        """A run that exited 0 left the complete, correct result."""
        self.assert_same(case.out, reference(self, case))

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        """Whether a finished run reported ``bad`` as unusable, and did not use it."""
        return result.rc in REFUSED and os.fsdecode(bad.name) in result.stderr

    def used(self, case: Case, path: Path) -> bool:
        """Whether the input ``path`` is in the run's result."""
        raise NotImplementedError

    def assert_recoverable(self, case: Case, reference: Reference) -> None:
        """After a run failed on a full disk, nothing half-written is trusted: the resume
        command on a roomy disk gives the correct result."""
        result = self.run(case, *self.resume_args(case))
        assert_clean(result)
        self.assert_correct(case, result, reference)

    # -- planting bad inputs
    def change_input(self, case: Case) -> Path:
        """Replace one input with other content of the same size; returns it."""
        path = sorted(case.inputs.glob("*.wav"))[0]
        replace_same_size(path)
        return path

    def plant_truncated(self, case: Case) -> Path:
        return write_truncated_wav(case.inputs / "cut.wav")

    def plant_non_finite(self, case: Case) -> list[Path]:
        return [write_nan_float_wav(case.inputs / "nan.wav"), write_loud_float_wav(case.inputs / "loud.wav")]

    def plant_non_utf8(self, case: Case) -> Path:
        path = case.inputs / NON_UTF8_NAME
        shutil.copy(sorted(case.inputs.glob("*.wav"))[0], path)
        return path

    def damage_state(self, case: Case) -> Path:
        """Damage the surface's own state file (running it first if needed); returns that file."""
        raise NotImplementedError

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        """Run on digital silence of several lengths: the embeddings (which must all be equal), or
        the run's result where silence must be refused."""
        raise NotImplementedError


class EmbedSurface(Surface):
    """``hear-byols embed`` (scene embeddings of the shipped default512 weights)."""

    name = "embed"
    supports = ATTACKS
    unsupported: Mapping[str, str] = {}
    counts = {"--workers": 0, "--batch-size": 1}
    positive_floats = ("--hop",)
    variation = ("--normalization", "per_clip")
    shards = True
    many_files = True

    def args(self, case: Case) -> list[str | Path]:
        return ["embed", case.inputs, "--model", "default512", "--out", case.out]

    def has_progress(self, case: Case, stderr: str) -> bool:
        return any(case.out.glob("*.npy"))

    def assert_same(self, got: Path, expected: Path) -> None:
        names = sorted(p.relative_to(expected) for p in expected.rglob("*.npy"))
        assert names, f"the reference run wrote nothing in {expected}"
        assert sorted(p.relative_to(got) for p in got.rglob("*.npy")) == names
        for name in names:
            assert np.array_equal(np.load(got / name), np.load(expected / name)), f"{name} differs"
        rows = json.loads((got / "index.json").read_text())["files"]
        assert {row["status"] for row in rows} <= {"written", "skipped"}, rows

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        return not (case.out / (bad.name + ".npy")).exists() and super().reported_unusable(case, result, bad)

    def used(self, case: Case, path: Path) -> bool:
        return (case.out / (path.name + ".npy")).is_file()

    def damage_state(self, case: Case) -> Path:
        assert_clean(self.run(case))
        return cut_tail(case.out / "index.json")

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        names = [f"zeros-{ms}ms.wav" for ms in (500, 1000, 2000)]
        for name, ms in zip(names, (500, 1000, 2000)):
            write_audio(case.inputs / name, np.zeros(16 * ms), 16000, "PCM_16")
        assert_clean(self.run(case, "--batch-size", "4"))
        return [np.load(case.out / (name + ".npy")) for name in names]


PRETRAIN_ARGS = ("--variant", "default512", "--max-steps", "2", "--batch-size", "2", "--workers", "0",
                 "--norm-sample", "4", "--device", "cpu", "--save-every", "1")


class PretrainSurface(Surface):
    """``hear-byols pretrain`` of default512 on four 1-2 s clips: 2 steps of batch 2 on the CPU."""

    name = "pretrain"
    supports = ATTACKS
    unsupported: Mapping[str, str] = {}
    counts = {"--epochs": 1, "--max-steps": 1, "--batch-size": 1, "--accumulate": 1, "--norm-sample": 1,
              "--workers": 0, "--save-every": 1}
    positive_floats = ("--max-time",)
    floats = ("--lr", "--tau", "--hybrid-weight", "--byol-weight")
    variation = ("--seed", "7")
    recomputes_changed_input = False  # --resume on other data cannot be exact: refused
    slow = True  # a training run is seconds even when tiny
    disk_room_kb = 3 * 1024  # encoder.pth (2.4 MB) fits, checkpoint.pt (86 MB) does not

    def args(self, case: Case) -> list[str | Path]:
        return ["pretrain", case.inputs, "--out", case.out, *PRETRAIN_ARGS]

    def first_run(self, case: Case, reference: Reference) -> None:
        copy_tree(reference(self, case), case.out)  # the same files, without paying for another run

    def resume_args(self, case: Case) -> tuple[str, ...]:
        return ("--resume", str(case.out))

    def long_args(self, case: Case) -> tuple[str, ...]:
        return ("--max-steps", "400", "--save-every", "1000")

    def started(self, case: Case) -> bool:
        return case.out.is_dir()

    def has_progress(self, case: Case, stderr: str) -> bool:
        return re.search(r"\b[1-9]\d*/\d+ \[", stderr) is not None  # tqdm: a step done

    def resumable(self, case: Case) -> bool:
        return (case.out / "checkpoint.pt").is_file()

    def has_saved_progress(self, case: Case) -> bool:
        checkpoint = case.out / "checkpoint.pt"
        return checkpoint.is_file() and torch.load(checkpoint, weights_only=True)["position"]["step"] >= 1

    def assert_same(self, got: Path, expected: Path) -> None:
        ours = torch.load(got / "encoder.pth", weights_only=True)
        theirs = torch.load(expected / "encoder.pth", weights_only=True)
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            assert torch.equal(ours[key], value), f"encoder.pth: {key} differs"
        record, expected_record = (json.loads((d / "run.json").read_text()) for d in (got, expected))
        assert record["finished"] and record["position"] == expected_record["position"]
        assert (record["data"]["files"], record["data"]["unreadable"]) == (
            expected_record["data"]["files"], expected_record["data"]["unreadable"])

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        if result.rc != 0:
            return super().reported_unusable(case, result, bad)
        listed = case.out / "unreadable.txt"
        encoder = torch.load(case.out / "encoder.pth", weights_only=True)
        assert all(torch.isfinite(v).all() for v in encoder.values() if v.is_floating_point()), "a non-finite encoder.pth"
        return listed.is_file() and os.fsdecode(bad.name) in listed.read_text(encoding="utf-8", errors="surrogateescape")

    def used(self, case: Case, path: Path) -> bool:
        record = json.loads((case.out / "run.json").read_text())
        return record["data"]["files"] == sum(1 for _ in case.inputs.iterdir()) and not record["data"]["unreadable"]

    def plant_non_finite(self, case: Case) -> list[Path]:
        """Samples that overflow the log-mel (NaN samples are the shared reader's, embed's attack)."""
        return [write_loud_float_wav(case.inputs / "loud.wav")]

    def assert_recoverable(self, case: Case, reference: Reference) -> None:
        encoder, checkpoint = ((case.out / name).is_file() for name in ("encoder.pth", "checkpoint.pt"))
        assert encoder == checkpoint, "a full disk left encoder.pth without checkpoint.pt, or the reverse"

    def damage_state(self, case: Case) -> Path:
        assert_clean(self.run(case, "--max-steps", "1"))
        checkpoint = case.out / "checkpoint.pt"
        checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 3])
        case.extra += ["--resume", str(case.out), "--out", str(case.root / "resumed")]
        return checkpoint

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        for path in case.inputs.glob("*.wav"):
            info = sf.info(str(path))
            write_audio(path, np.zeros(info.frames), info.samplerate, info.subtype)
        return self.run(case)


class OutputCommandSurface(Surface):
    """A command over an existing ``embed --out`` (``index merge``, ``verify-embeddings``):
    ``prepare`` copies the corpus and its embed output, made once per session with relative
    paths (``embed in --out out`` in a folder), so the copy's index names the copy's inputs."""

    action: tuple[str, ...] = ()

    def prepare(self, root: Path, corpus: Path) -> Case:
        embedded = corpus.with_name(corpus.name + ".embedded")
        if not embedded.is_dir():
            made = Case(embedded, Path("in"), Path("out"))
            copy_tree(corpus, embedded / made.inputs)
            assert_clean(EMBED.run(made, "--quiet"))
        copy_tree(embedded / "out", root / "out")
        return Case(root, copy_tree(embedded / "in", root / "in"), root / "out")

    def args(self, case: Case) -> list[str | Path]:
        return [*self.action, case.out]

    def first_run(self, case: Case, reference: Reference) -> None:
        """``prepare`` made the output."""

    def plant_truncated(self, case: Case) -> Path:
        """An output cut short (a copy interrupted, a full disk)."""
        return cut_tail(sorted(case.out.glob("*.npy"))[0], 100)


class MergeSurface(OutputCommandSurface):
    """``hear-byols index merge OUT``, on an --out whose index is still an unmerged part."""

    name = "index_merge"
    action = ("index", "merge")
    supports = ("damaged_state", "truncated_input", "launcher_env", "read_only_out", "out_is_file", "disk_full")
    unsupported = {
        "concurrent": "serialised by the index lock; a merge beside a live shard is refused (tests/embed/test_cli_shards.py)",
        "second_run": "no settings of its own: a second merge of the same folder is the same merge",
        "sigint": "milliseconds of work under the index lock, written atomically: nothing to interrupt",
        "sigterm": "milliseconds of work under the index lock, written atomically: nothing to interrupt",
        "sigkill_resume": "milliseconds of work under the index lock, written atomically: nothing to interrupt",
        "changed_input": "reads records, not audio: a changed audio input is embed's and verify's attack",
        "non_finite_input": "reads records, not numbers",
        "silence": "reads records, not audio",
        "non_utf8_name": "the name reaches it only through embed's records: embed's attack writes them",
        "bad_counts": "no count options",
        "bad_floats": "no float options",
    }
    disk_room_kb = 0

    def prepare(self, root: Path, corpus: Path) -> Case:
        case = super().prepare(root, corpus)
        index = json.loads((case.out / "index.json").read_text())
        rows = [{k: v for k, v in row.items() if k != "run"} for row in index["files"]]  # a part's rows are its run's
        part = {"format": index["format"], "run": index["runs"][0], "files": rows}
        (case.out / "index.json").rename(case.root / "index.expected.json")
        (case.out / f"index.run-{part['run']['id']}.part.json").write_text(json.dumps(part))
        return case

    def assert_correct(self, case: Case, result: Result, reference: Reference) -> None:
        index = json.loads((case.out / "index.json").read_text())
        assert index == json.loads((case.root / "index.expected.json").read_text())
        assert not list(case.out.glob("index.run-*.part.json"))

    def plant_truncated(self, case: Case) -> Path:
        return cut_tail(next(case.out.glob("index.run-*.part.json")))

    def damage_state(self, case: Case) -> Path:
        part = next(case.out.glob("index.run-*.part.json"))
        content = json.loads(part.read_text())
        content["files"][0]["status"] = "done"  # not written/skipped/failed: a row the index format refuses
        part.write_text(json.dumps(content))
        return part


class VerifySurface(OutputCommandSurface):
    """``hear-byols verify-embeddings OUT``: re-hashes what embed recorded."""

    name = "verify_embeddings"
    action = ("verify-embeddings",)
    supports = ("changed_input", "truncated_input", "damaged_state", "launcher_env", "read_only_out", "out_is_file")
    unsupported = {
        "concurrent": "only reads: two at once cannot clash (embed's lock is embed's attack)",
        "second_run": "only reads, no settings",
        "sigint": "writes nothing: an interrupted check leaves nothing to keep",
        "sigterm": "writes nothing: an interrupted check leaves nothing to keep",
        "sigkill_resume": "writes nothing: an interrupted check leaves nothing to resume",
        "non_finite_input": "compares hashes, not numbers: a NaN output is embed's attack",
        "silence": "compares hashes, not audio",
        "non_utf8_name": "the name reaches it only through embed's records: embed's attack writes them",
        "disk_full": "writes nothing",
        "bad_counts": "no count options",
        "bad_floats": "no float options",
    }
    recomputes_changed_input = False  # it must report the changed input
    names_changed_input = True
    reads_only = True

    def assert_correct(self, case: Case, result: Result, reference: Reference) -> None:
        count = sum(1 for _ in case.out.glob("*.npy"))
        assert f"{count} of {count} outputs match" in result.stderr, result

    def damage_state(self, case: Case) -> Path:
        return cut_tail(case.out / "index.json")


class ApiSurface(Surface):
    """``load_model`` + ``get_scene_embeddings``/``get_timestamp_embeddings`` in this process, on the
    shipped default512 weights (``case.inputs``: the weight file and ``audio.npy``; the embeddings
    are saved in ``case.out``). A ``HearByolsError`` is the API's refusal (2 for a bad option, 1
    otherwise); any other exception is the traceback a user would see."""

    name = "api"
    supports = ("concurrent", "changed_input", "damaged_state", "non_finite_input", "silence", "non_utf8_name",
                "bad_floats")
    unsupported = {
        "second_run": "writes nothing: a second call has no earlier output to clash with",
        "sigint": "in-process: a signal is the calling program's to handle",
        "sigterm": "in-process: a signal is the calling program's to handle",
        "sigkill_resume": "in-process and stateless: nothing to resume",
        "truncated_input": "takes tensors, not files; a truncated weight file is its damaged_state attack",
        "launcher_env": "embeds exactly the tensors it is given; it reads no launcher variables",
        "read_only_out": "writes no files when given model_file_path (downloads: tests/weights/test_weights_download.py)",
        "out_is_file": "has no output path",
        "disk_full": "writes no files when given model_file_path (downloads: tests/weights/test_weights_download.py)",
        "bad_counts": "no count options (hop_size and frame_duration are bad_floats)",
    }
    positive_floats = ("hop_size", "frame_duration")

    def prepare(self, root: Path, corpus: Path) -> Case:
        from helpers.fixture_files import FIXTURES

        case = Case(root, root / "in", root / "out")
        case.inputs.mkdir(parents=True)
        shutil.copy(default512_weights(), case.inputs / "weights.pth")
        np.save(case.inputs / "audio.npy", np.load(FIXTURES / "audio_inputs.npz")["audio"][:2])
        return case

    @staticmethod
    def weights(case: Case) -> Path:
        return next(p for p in case.inputs.iterdir() if p.suffix == ".pth")

    @staticmethod
    def model(weights: Path) -> Any:
        from hear_byols import default512

        return default512.load_model(os.fspath(weights))

    def run(self, case: Case, *extra: str, env: Mapping[str, str] | None = None) -> Result:
        from hear_byols import default512

        options = {extra[i]: float(extra[i + 1]) for i in range(0, len(extra), 2)}

        def embed() -> None:
            model, audio = self.model(self.weights(case)), torch.from_numpy(np.load(case.inputs / "audio.npy"))
            if options:
                embeddings = default512.get_timestamp_embeddings(audio, model, **options)[0]
            else:
                embeddings = default512.get_scene_embeddings(audio, model)
            case.out.mkdir(parents=True, exist_ok=True)
            np.save(case.out / "embeddings.npy", embeddings.numpy())

        return call_as_run(embed)

    def assert_same(self, got: Path, expected: Path) -> None:
        assert np.array_equal(np.load(got / "embeddings.npy"), np.load(expected / "embeddings.npy"))

    def used(self, case: Case, path: Path) -> bool:
        return (case.out / "embeddings.npy").is_file()

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        """Refused, naming the bad file (NaN weights are not the audio's fault), with no output."""
        return result.rc in REFUSED and os.fsdecode(bad.name) in result.stderr and not (case.out / "embeddings.npy").exists()

    def change_input(self, case: Case) -> Path:
        """Other weights of the same architecture, in place of the first."""
        from hear_byols.testing import deterministic_state_dict

        weights = self.weights(case)
        torch.save(deterministic_state_dict("default512"), weights)
        return weights

    def plant_non_finite(self, case: Case) -> list[Path]:
        weights = self.weights(case)
        state = torch.load(weights, weights_only=True)
        key = next(k for k, v in state.items() if v.is_floating_point() and v.dim() > 1)
        state[key][0] = float("nan")
        torch.save(state, weights)
        return [weights]

    def plant_non_utf8(self, case: Case) -> Path:
        weights = self.weights(case)
        return weights.rename(weights.with_name(os.fsdecode(b"caf\xe9.pth")))

    def damage_state(self, case: Case) -> Path:
        weights = self.weights(case)
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        return weights

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        from hear_byols import default512

        model = self.model(self.weights(case))
        alone = [default512.get_scene_embeddings(torch.zeros(1, n), model)[0].numpy() for n in (8000, 16000, 32000)]
        batched = default512.get_scene_embeddings(torch.zeros(4, 16000), model).numpy()
        return alone + list(batched)

    def race(self, case: Case) -> list[str]:
        """Scene embeddings of clips of three lengths (three encoder passes per call) on this
        thread while another switches the model between layers of different sizes: every
        result must be one layer's, whole. Returns what went wrong."""
        from hear_byols import default512

        model = self.model(self.weights(case))
        clips = np.load(case.inputs / "audio.npy")[0]
        audio = [torch.from_numpy(clips[:n].copy()) for n in (8000, 16000, 24000)]
        expected = {}
        for layer in ("fc2", "conv2"):
            model.select_layer(layer)
            expected[layer] = default512.get_scene_embeddings(audio, model)
        problems: list[str] = []
        stop = threading.Event()

        def switch() -> None:
            while not stop.is_set():
                for layer in ("fc2", "conv2"):
                    model.select_layer(layer)
                    time.sleep(0.001)

        switcher = threading.Thread(target=switch, daemon=True)
        switcher.start()
        try:
            for _ in range(8):
                result = call_as_run(lambda: problems.append(_mixed(default512.get_scene_embeddings(audio, model), expected)))
                problems.append(result.stderr)
        finally:
            stop.set()
            switcher.join()
        return [p for p in problems if p]


def _mixed(got: torch.Tensor, expected: Mapping[str, torch.Tensor]) -> str:
    """'' when ``got`` is exactly one of the ``expected`` results, else what it is."""
    if any(got.shape == e.shape and torch.equal(got, e) for e in expected.values()):
        return ""
    return f"a result of shape {tuple(got.shape)} equal to no single layer's (rows mixed)"


class ExportSurface(Surface):
    """``hear-byols export default512 --out out/model.onnx`` of a copy of the shipped weights
    (``case.inputs/weights.pth``), verified at the minimum length and 1 s only (``--check-seconds``)
    to keep each run near 20 s of CPU. A result is compared by the graph's outputs in onnxruntime
    and its sidecar (weights hash, checked shapes)."""

    name = "export"
    supports = ("changed_input", "damaged_state", "non_finite_input", "silence", "launcher_env", "non_utf8_name",
                "read_only_out", "out_is_file", "disk_full")
    unsupported = {
        "concurrent": "two exports into one --out each rename a verified pair into place; they are not locked "
                      "against each other, so the last rename of each file wins (a mixed pair fails the runtime's "
                      "sha256 check of the sidecar)",
        "second_run": "a second export into the same --out is a re-export: it replaces the graph and its sidecar "
                      "together, atomically, as intended",
        "sigint": "nothing partial to keep: the graph and sidecar are renamed into place only after verification",
        "sigterm": "nothing partial to keep: the graph and sidecar are renamed into place only after verification",
        "sigkill_resume": "nothing to resume: the graph exists whole or not at all; a rerun exports again",
        "truncated_input": "reads no audio files; a truncated weight file is its damaged_state attack",
        "bad_counts": "no count option; --opset out of range or not an integer exits 2: tests/export/test_export_cli.py",
        "bad_floats": "a run is `mkdir -p out` then the export (whose folder must exist), so 'no output folder' "
                      "cannot be checked; "
                      "--check-seconds 0, -1, nan, inf and --normalization with nan exit 2: tests/export/test_export_cli.py",
    }
    slow = True

    def prepare(self, root: Path, corpus: Path) -> Case:
        case = Case(root, root / "in", root / "out")
        case.inputs.mkdir(parents=True)
        shutil.copy(default512_weights(), case.inputs / "weights.pth")
        return case

    def run(self, case: Case, *extra: str, env: Mapping[str, str] | None = None) -> Result:
        """As a user runs it: ``mkdir -p out`` first (export refuses a missing folder), unless
        something is in its place already (the out_is_file attack)."""
        if not os.path.lexists(case.out):
            case.out.mkdir(parents=True)
        return super().run(case, *extra, env=env)

    weights = staticmethod(ApiSurface.weights)

    def args(self, case: Case) -> list[str | Path]:
        return ["export", "default512", "--out", case.out / "model.onnx", "--weights", self.weights(case),
                "--check-seconds", "min,1"]

    @staticmethod
    def outputs(folder: Path, audio: np.ndarray) -> np.ndarray:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        return session.run(["embedding"], {"audio": audio.astype(np.float32)})[0]

    def assert_same(self, got: Path, expected: Path) -> None:
        sidecars = [json.loads((folder / "model.onnx.json").read_text()) for folder in (got, expected)]
        assert sidecars[0]["weights"]["sha256"] == sidecars[1]["weights"]["sha256"]
        assert sidecars[0]["verification"]["checks"] == sidecars[1]["verification"]["checks"]
        graph = hashlib.sha256((got / "model.onnx").read_bytes()).hexdigest()
        assert graph == sidecars[0]["graph"]["sha256"], "the graph is not the one its sidecar describes"
        audio = tone(16000, 1.3).T
        assert np.array_equal(self.outputs(got, audio), self.outputs(expected, audio))

    def used(self, case: Case, path: Path) -> bool:
        sidecar = json.loads((case.out / "model.onnx.json").read_text())
        return sidecar["weights"]["name"] == os.fsdecode(path.name)

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        return super().reported_unusable(case, result, bad) and not any(case.out.iterdir())

    def change_input(self, case: Case) -> Path:
        """Other weights of the same architecture, in place of the first."""
        from hear_byols.testing import deterministic_state_dict

        torch.save(deterministic_state_dict("default512"), self.weights(case))
        return self.weights(case)

    plant_non_finite = ApiSurface.plant_non_finite
    plant_non_utf8 = ApiSurface.plant_non_utf8
    damage_state = ApiSurface.damage_state

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        """Silent rows of 0.5, 1 and 2 s, alone and beside a tone, through the exported graph."""
        assert_clean(self.run(case))
        got = [self.outputs(case.out, np.zeros((1, n)))[0] for n in (8000, 16000, 32000)]
        beside = np.stack([tone(16000, 2.0)[:, 0], np.zeros(32000)])
        return got + [self.outputs(case.out, beside)[1]]


class StreamSurface(Surface):
    """``hear-byols stream FILE --out-dir OUT``: default512 (the shipped weights, copied into the
    inputs) with fixed statistics, on one 1 s clip; a run's result is its frames' ``.npy`` files."""

    name = "stream"
    supports = ("concurrent", "second_run", "sigint", "sigterm", "sigkill_resume", "changed_input", "truncated_input",
                "damaged_state", "non_finite_input", "silence", "launcher_env", "non_utf8_name", "read_only_out",
                "out_is_file", "disk_full", "bad_counts", "bad_floats")
    unsupported: Mapping[str, str] = {}
    counts = {"--batch": 1}
    positive_floats = ("--chunk-ms", "--hop")
    variation = ("--hop", "100")
    disk_room_kb = 8  # the marker and one frame fit (a page each), the second frame does not

    def prepare(self, root: Path, corpus: Path) -> Case:
        case = Case(root, root / "in", root / "out")
        case.inputs.mkdir(parents=True)
        shutil.copy(sorted(corpus.glob("*.wav"))[0], case.inputs / "clip.wav")
        shutil.copy(default512_weights(), case.inputs / "weights.pth")
        return case

    @staticmethod
    def input_file(case: Case) -> Path:
        (audio,) = [p for p in case.inputs.iterdir() if p.suffix != ".pth"]
        return audio

    def args(self, case: Case) -> list[str | Path]:
        return ["stream", self.input_file(case), "--model", "default512", "--weights", case.inputs / "weights.pth",
                "--normalization=-6.0,3.5", "--out-dir", case.out]

    def resume_args(self, case: Case) -> tuple[str, ...]:
        return ("--overwrite",)  # a stream restarts: its input may be a pipe that cannot be read twice

    def long_args(self, case: Case) -> tuple[str, ...]:
        return ("--hop", "1")  # 1001 frames of a 1 s clip

    def has_progress(self, case: Case, stderr: str) -> bool:
        return any(case.out.glob("*.npy"))

    def assert_same(self, got: Path, expected: Path) -> None:
        names = sorted(p.name for p in expected.glob("*.npy"))
        assert names and sorted(p.name for p in got.glob("*.npy")) == names
        for name in names:
            assert np.array_equal(np.load(got / name), np.load(expected / name)), f"{name} differs"
        assert json.loads((got / "stream.json").read_text())["complete"]

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        return not any(case.out.glob("*.npy")) and super().reported_unusable(case, result, bad)

    def used(self, case: Case, path: Path) -> bool:
        return any(case.out.glob("*.npy"))

    def plant_truncated(self, case: Case) -> Path:
        self.input_file(case).unlink()
        return write_truncated_wav(case.inputs / "cut.wav")

    def plant_non_finite(self, case: Case) -> list[Path]:
        """Samples far outside [-1, 1] (NaN samples are the shared reader's, embed's attack)."""
        self.input_file(case).unlink()
        return [write_loud_float_wav(case.inputs / "loud.wav")]

    def plant_non_utf8(self, case: Case) -> Path:
        return self.input_file(case).rename(case.inputs / NON_UTF8_NAME)

    def damage_state(self, case: Case) -> Path:
        return cut_tail(case.inputs / "weights.pth", 1000)

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        frames = []
        for ms in (500, 2000):
            self.input_file(case).unlink()
            write_audio(case.inputs / f"zeros-{ms}ms.wav", np.zeros(16 * ms), 16000, "PCM_16")
            assert_clean(self.run(case, "--overwrite"))
            frames += [np.load(path) for path in sorted(case.out.glob("*.npy"))]
        return frames


class ProbeSurface(Surface):
    """``hear-byols probe`` on a table of 16 synthetic clips (4 speakers, 2 classes), with the shipped
    default512 weights and eGeMAPS, 2 speaker folds, LDA only. Its state: the feature cache under
    ``RUN_DIR/cache``; its result: ``results.csv`` and the clips' splits."""

    name = "probe"
    supports = tuple(a for a in ATTACKS if a not in ("second_run", "non_utf8_name", "bad_floats"))
    unsupported = {
        "second_run": "a rerun into RUN_DIR with other classifier settings is the documented way to compare them: "
                      "features are cached by their own settings, the report is replaced atomically "
                      "(tests/probe/test_run.py); a concurrent second run is refused (the concurrent attack)",
        "non_utf8_name": "clips are listed in a CSV/TSV table, which is text: a name that is not UTF-8 cannot be "
                         "written in it (embed's attack covers such names in the engine the probe uses)",
        "bad_floats": "no float options (MEAN,STD normalisation is parsed by load_model's parser: tests/probe)",
    }
    counts = {"--folds": 2, "--jobs": 1, "--workers": 0, "--batch-size": 1}
    variation = ("--families", "logreg")
    slow = True  # each run is seconds (imports, openSMILE, the grid)
    many_files = True  # 40 clips of 3 s for the attacks that interrupt a run, 16 short ones otherwise
    disk_room_kb = 16

    def prepare(self, root: Path, corpus: Path) -> Case:
        from helpers.probe_corpus import write_table_corpus

        inputs, many = root / "in", sum(1 for _ in corpus.glob("*.wav")) > 10
        write_table_corpus(inputs, speakers=4, takes=5 if many else 2, labels=("low", "high"),
                           seconds=3.0 if many else 0.6)
        return Case(root, inputs, root / "out")

    def long_args(self, case: Case) -> tuple[str, ...]:
        return ("--families", "lda", "logreg", "svc", "rf")

    def started(self, case: Case) -> bool:
        return (case.out / ".probe.lock").exists()

    def args(self, case: Case) -> list[str | Path]:
        return ["probe", "--labels", case.inputs / "labels.csv", "--models", "default512", "egemaps", "--out",
                case.out, "--families", "lda", "--folds", "2"]

    def has_progress(self, case: Case, stderr: str) -> bool:
        return any(case.out.glob("cache/*/*.npy"))

    def assert_same(self, got: Path, expected: Path) -> None:
        assert (got / "results.csv").read_text() == (expected / "results.csv").read_text()
        assert _split_rows(got) == _split_rows(expected)

    def reported_unusable(self, case: Case, result: Result, bad: Path) -> bool:
        if result.rc != 0:
            return super().reported_unusable(case, result, bad)
        listed = case.out / "unreadable.txt"
        return listed.is_file() and os.fsdecode(bad.name) in listed.read_text(encoding="utf-8", errors="replace")

    def used(self, case: Case, path: Path) -> bool:
        return any(row[2] == path.name and row[6] == "ok" for row in _split_rows(case.out))

    def change_input(self, case: Case) -> Path:
        path = sorted(case.inputs.glob("clips/*.wav"))[0]
        replace_same_size(path)
        return path

    def _listed(self, case: Case, path: Path, label: str = "low", speaker: str = "spk0") -> Path:
        with (case.inputs / "labels.csv").open("a") as table:
            table.write(f"{path.relative_to(case.inputs).as_posix()},{label},{speaker}\n")
        return path

    def plant_truncated(self, case: Case) -> Path:
        return self._listed(case, write_truncated_wav(case.inputs / "clips" / "cut.wav"))

    def plant_non_finite(self, case: Case) -> list[Path]:
        return [self._listed(case, write_nan_float_wav(case.inputs / "clips" / "nan.wav")),
                self._listed(case, write_loud_float_wav(case.inputs / "clips" / "loud.wav"), "high", "spk1")]

    def damage_state(self, case: Case) -> Path:
        assert_clean(self.run(case))
        return cut_tail(next(case.out.glob("cache/emb-default512-*/index.json")))

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        for path in case.inputs.glob("clips/*.wav"):
            info = sf.info(str(path))
            write_audio(path, np.zeros(info.frames), info.samplerate, info.subtype)
        return self.run(case)


def _split_rows(out: Path) -> list[list[str]]:
    """splits.csv with each path cut to its file name (a reference run reads a copy of the inputs)."""
    lines = (out / "splits.csv").read_text().splitlines()[1:]
    return sorted([row[0], row[1], Path(row[2]).name, *row[3:]] for row in (line.split(",") for line in lines))


class StatsSurface(Surface):
    """``hear-byols stats DATA --out OUT/stats.json``: one statistics file, written once at the end."""

    name = "stats"
    supports = ("changed_input", "truncated_input", "non_finite_input", "silence", "launcher_env", "non_utf8_name",
                "read_only_out", "out_is_file", "bad_counts")
    unsupported = {
        "concurrent": "no settings kept in OUT to clash with: each run writes its whole file atomically at the end, "
        "so two runs leave one of two complete files (the last one's)",
        "second_run": "a run keeps nothing to resume or skip: a second run with other settings replaces the file whole",
        "sigint": "keeps no partial work (one pass, written once at the end; shards parallelise): an interrupted run "
        "leaves the old file or none (Ctrl-C exits 130 through the shared handler)",
        "sigterm": "keeps no partial work (one pass, written once at the end; shards parallelise)",
        "sigkill_resume": "keeps no partial work to resume: the rerun measures everything again",
        "damaged_state": "a run reads no state of its own; a damaged stats.json given to --normalization and a damaged "
        "part given to --merge are refused, named, in tests/stats",
        "bad_floats": "no float options",
        "disk_full": "its one output (~2 KB) fits in the smallest tmpfs run_full can mount (one page; size=0 means "
        "unlimited): ENOSPC mid-write is raised in tests/stats/test_stats_cli.py instead (no file, no temporary left)",
    }
    counts = {"--workers": 0}
    shards = True

    def args(self, case: Case) -> list[str | Path]:
        return ["stats", case.inputs, "--out", case.out / "stats.json"]

    def assert_same(self, got: Path, expected: Path) -> None:
        mine, theirs = (json.loads((folder / "stats.json").read_text()) for folder in (got, expected))
        for key in ("statistics", "counts", "corpus_sha256", "listing_sha256", "frontend", "normalization"):
            assert mine[key] == theirs[key], f"{key}: {mine[key]} != {theirs[key]}"
        assert not list(got.glob(".stats.json.*")), "a temporary file was left behind"

    def used(self, case: Case, path: Path) -> bool:
        stats = json.loads((case.out / "stats.json").read_text())
        return stats["counts"]["clips"] == sum(1 for _ in case.inputs.glob("*.wav"))

    def silence(self, case: Case) -> Result | list[np.ndarray]:
        for path in case.inputs.glob("*.wav"):
            info = sf.info(str(path))
            write_audio(path, np.zeros(info.frames), info.samplerate, info.subtype)
        return self.run(case)


def call_as_run(function: Callable[[], Any]) -> Result:
    """``function()`` as a run: 0; 2 for InvalidOptionError; 1 for another HearByolsError; any
    other exception is a traceback."""
    from hear_byols.errors import HearByolsError, InvalidOptionError

    try:
        function()
    except InvalidOptionError as exc:
        return Result(2, f"{type(exc).__name__}: {exc}")
    except HearByolsError as exc:
        return Result(1, f"{type(exc).__name__}: {exc}")
    except Exception:  # noqa: BLE001 - the point: anything else reaches the user as a traceback
        return Result(1, traceback.format_exc())
    return Result(0, "")


def default512_weights() -> Path:
    """SERAB's d=512 checkpoint, shipped in the package's checkpoints/."""
    from hear_byols.variants import variant_spec
    from hear_byols.weights import package_checkpoints_dir

    return package_checkpoints_dir() / variant_spec("default512").weight_files[0].filename


EMBED = EmbedSurface()
#: Every entry point under attack. A new one: subclass Surface, fill in its hooks, register it here.
SURFACES: dict[str, Surface] = {
    s.name: s for s in (EMBED, PretrainSurface(), ApiSurface(), MergeSurface(), VerifySurface(), ExportSurface(),
                        StreamSurface(), StatsSurface(), ProbeSurface())
}


def bad_counts(surface: Surface) -> Iterator[tuple[str, str]]:
    """``(option, value)``: every declared count at ``minimum - 1`` and at -1."""
    for option, minimum in surface.counts.items():
        for value in sorted({minimum - 1, -1}, reverse=True):
            yield option, str(value)


def bad_floats(surface: Surface) -> Iterator[tuple[str, str]]:
    """``(option, value)``: NaN and Inf for every float, 0 and -1 too where it must be positive."""
    for option in surface.positive_floats:
        for value in ("0", "-1", "nan", "inf"):
            yield option, value
    for option in surface.floats:
        for value in ("nan", "inf"):
            yield option, value
