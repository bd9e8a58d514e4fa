"""Speaker-independent downstream evaluation of a labelled speech corpus (SERAB's protocol).

A corpus (a table, or a public dataset in its native layout) becomes clips with a label and a true
speaker; splits keep every speaker on one side; classifiers are tuned on validation speakers only.
``run`` (docs/PROBE.md) is imported on first use: scikit-learn and the engine load only then.
"""
from __future__ import annotations

from typing import Any

__all__ = ["run"]
#: what the probe extra installs beside the core (setup.cfg)
EXTRA = ("sklearn", "matplotlib", "opensmile")


def __getattr__(name: str) -> Any:
    if name == "run":
        try:
            from hear_byols.probe.runner import run
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in EXTRA:
                raise
            from hear_byols.errors import UsageError

            raise UsageError(f"the probe needs {exc.name.split('.')[0]}: pip install 'hear_byols[probe]'") from None
        return run
    raise AttributeError(f"module 'hear_byols.probe' has no attribute {name!r}")
