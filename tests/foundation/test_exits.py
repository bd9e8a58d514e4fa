"""One exit-code map for every entry point (hear_byols.exits): the package's errors end a command
with one ``prog: error: message`` line and their status; a bug keeps its traceback."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from evaluation.__main__ import main as evaluation_main
from evaluation.engine import RunError
from evaluation.harnesses.heareval import ScoresLayoutError
from evaluation.harnesses.pretrain_probe import ProbeTaskError
from evaluation.ledger import LedgerBusy
from evaluation.report import NoScoresError
from evaluation.schedule import ScheduleError
from evaluation.speech_synthesis import SpeechSynthesisError
from evaluation.task_check import TaskFolderError
from hear_byols.cli import main as cli_main
from hear_byols.errors import HearByolsError, InvalidOptionError, StorageError, UsageError
from hear_byols.exits import FAILURE, INTERRUPTED, USAGE_ERROR, exit_status, report
from hear_byols.pretraining import launch
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining


def test_statuses() -> None:
    assert exit_status(UsageError("x")) == exit_status(InvalidOptionError("x")) == USAGE_ERROR == 2
    assert exit_status(StorageError("x")) == exit_status(HearByolsError("x")) == FAILURE == 1
    assert exit_status(KeyboardInterrupt()) == INTERRUPTED == 130


def test_one_line_per_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert report("prog", UsageError("bad \udce9 name")) == 2
    assert capsys.readouterr().err == "prog: error: bad \\xe9 name\n"
    assert report("prog", KeyboardInterrupt(), interrupted="rerun it") == 130
    assert capsys.readouterr().err == "prog: interrupted: rerun it\n"


@pytest.mark.parametrize("error", [RunError, LedgerBusy, SpeechSynthesisError, TaskFolderError, ScheduleError,
                                   NoScoresError, ScoresLayoutError, ProbeTaskError])
def test_evaluation_errors_are_the_packages(error: type) -> None:
    assert issubclass(error, HearByolsError)


@pytest.mark.parametrize(("entry", "module", "attribute", "argv", "error", "status", "line"), [
    (evaluation_main, "evaluation.variants_table", "variants_table", ["variants-table"], RunError("2 step(s) failed"),
     1, "python -m evaluation variants-table: error: 2 step(s) failed\n"),
    (cli_main, "hear_byols.cli.weights_cmds", "run_verify", ["verify"], UsageError("no such thing"),
     2, "hear-byols verify: error: no such thing\n"),
])
def test_an_entry_point_maps_its_errors_and_lets_bugs_raise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], entry, module: str, attribute: str,
    argv: list[str], error: Exception, status: int, line: str,
) -> None:
    target = importlib.import_module(module)
    monkeypatch.setattr(target, attribute, lambda: (_ for _ in ()).throw(error))
    assert entry(argv) == status
    assert capsys.readouterr().err == line
    monkeypatch.setattr(target, attribute, lambda: int("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        entry(argv)


def test_pretraining_lets_bugs_raise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(launch, "start", lambda *args, **kwargs: int("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        run_pretraining(PretrainConfig(data=(str(tmp_path),), variant="default512", out=str(tmp_path / "run")))
