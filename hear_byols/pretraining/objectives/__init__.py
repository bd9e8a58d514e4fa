"""The pretraining objectives, by name: BYOL-S (``byol``, a plain run) and Hybrid BYOL-S
(``hybrid``, chosen by ``--hybrid``).

An objective is one unit (``base.Objective``): its heads and losses (``forward``), its targets
(``target_source``), its options (``Options``: config fields and flags, each one a resume key),
its metrics columns (``loss_names``) and its run.json entry (``record_key``, ``record``,
``versions``). The loop, the checkpoint, run.json and the command line read all of it from here.

Adding an objective, e.g. distillation from a teacher's embeddings:
1. a new module here, ``distill.py``: an ``Options`` dataclass (``frozen=True, kw_only=True``) with
   its flags as ``optionfield.option`` fields, one of which selects it (say ``teacher``, default
   None); a subclass of ``Objective`` with ``name``, ``Options``, ``selected_by = "teacher"``,
   ``loss_names`` (``loss`` first), ``create`` (the learner and its heads) and ``forward``; and,
   when its heads predict per-crop values, ``target_source`` (e.g. the teacher's embeddings of
   each crop, cached like ``hybrid.target_table``), which are z-scored like Hybrid's;
2. its entry in ``OBJECTIVES`` below (with the import of its class).
Its flags then appear on ``hear-byols pretrain`` and ``python -m hear_byols.pretraining``, its
losses in metrics.csv (a column each, empty in other objectives' runs), its ``record`` in
run.json (null in other runs), and its options in the config and the resume check. Checked
with such a throwaway ``distill.py`` (teacher: a variant's scene embeddings of each crop): it
trained, logged ``distill_loss``, and resumed, refusing a changed ``--distill-weight``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hear_byols.errors import UsageError
from hear_byols.pretraining.objectives.base import Objective
from hear_byols.pretraining.objectives.byol import ByolObjective
from hear_byols.pretraining.objectives.hybrid import HybridObjective
from hear_byols.pretraining.optionfield import flag

if TYPE_CHECKING:
    from hear_byols.pretraining.options import PretrainConfig

#: The objective of a run whose options select no other.
DEFAULT_OBJECTIVE = "byol"
#: name -> objective.
OBJECTIVES: dict[str, type[Objective]] = {
    ByolObjective.name: ByolObjective,
    HybridObjective.name: HybridObjective,
}


def objective_class(name: str) -> type[Objective]:
    """The objective registered as ``name``."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise UsageError(f"unknown pretraining objective {name!r}: known are {', '.join(OBJECTIVES)}") from None


def chosen_objective(cfg: PretrainConfig) -> type[Objective]:
    """The objective that ``cfg`` selects (the default one when no selecting option is set)."""
    chosen = [cls for cls in OBJECTIVES.values() if cls.selected_by and getattr(cfg, cls.selected_by) is not None]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(flag(cls.selected_by or '') for cls in chosen)} choose different "
                         "objectives: pass one of them")
    return chosen[0] if chosen else objective_class(DEFAULT_OBJECTIVE)


def logged_losses() -> tuple[str, ...]:
    """The metrics.csv loss columns: every objective's, in registry order (a run fills its own)."""
    return tuple(dict.fromkeys(name for cls in OBJECTIVES.values() for name in cls.loss_names))


def record_keys() -> tuple[str, ...]:
    """The run.json entries objectives fill (null in a run of another objective)."""
    return tuple(cls.record_key for cls in OBJECTIVES.values() if cls.record_key)


def resume_keys() -> frozenset[str]:
    """Every objective's options: a resume must keep them all (so it cannot switch objective)."""
    return frozenset(key for cls in OBJECTIVES.values() for key in cls.resume_keys())
