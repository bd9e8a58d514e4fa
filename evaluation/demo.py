"""``make demo``: small tasks -> hear-validator -> heareval -> score table and plot, offline.

For hear_byols.cvt, hear_byols.default and hear_byols.default512 with heareval's ``faster``
grid. Official weights are used when they can be had (``$HEAR_BYOLS_WEIGHTS_DIR``, the
package's checkpoints/, the cache or a download); otherwise deterministic test weights, flagged
loudly (see evaluation/weights.py). default512's real weights ship with the package, so even
offline the demo sets a trained model beside untrained ones, and the report says which is which.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from evaluation import engine
from evaluation.harnesses import heareval
from evaluation.harnesses.heareval import RunConfig
from evaluation.report import Report, write_report
from evaluation.tasks import generate_tasks
from evaluation.weights import demo_weights

DEMO_MODULES = ("hear_byols.cvt", "hear_byols.default", "hear_byols.default512")


def demo(
    out: Path, modules: tuple[str, ...] = DEMO_MODULES, grid: str = "faster", seed: int = 0,
    log: Callable[[str], None] = print,
) -> Report:
    """The whole loop into ``out`` (resumable: finished steps are skipped on a rerun)."""
    out = Path(out)
    start = time.perf_counter()
    generate_tasks(out / "tasks", seed, log)
    weights = {module: demo_weights(module, out / "test-weights", log) for module in modules}
    engine.run(heareval, RunConfig(out / "tasks", out, {}, grid, validate=True), weights, log=log)
    report = write_report(out, title=f"hear_byols demo: small offline tasks, heareval grid '{grid}'")
    log("\n" + report.markdown.read_text())
    if report.warning:
        log(f"!!! {report.warning}")
    log(f"table: {report.csv}\nmarkdown: {report.markdown}\nplot: {report.plot}")
    log(f"demo wall time: {time.perf_counter() - start:.0f} s")
    return report
