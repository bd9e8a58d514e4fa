"""Check ``--modules`` and ``--model-options`` before any heareval step.

heareval imports each module and calls ``load_model(**model_options)`` at the start of every
embeddings step: a misspelt module, option or value fails each of those steps, one log at a
time, after the validator. These checks import the module and check the options the way its
``load_model`` would (hear_byols modules: ``hear_byols.api.check_load_options``, names and
values; other HEAR modules: the names against ``load_model``'s signature), without loading
weights.
"""
from __future__ import annotations

import importlib
import inspect
import json
from typing import Any, Callable, Mapping, Sequence

from hear_byols.api import check_load_options
from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.variants import variant_names

from evaluation.weights import variant_of


def check_modules(modules: Sequence[str], options: Mapping[str, Any]) -> None:
    """Raise UsageError naming the first module that cannot load with ``options``, and the fix."""
    for module in modules:
        if module.partition(".")[0] == "hear_byols":
            check_hear_byols_module(module, options)
        else:
            check_other_module(module, options)


def check_hear_byols_module(module: str, options: Mapping[str, Any]) -> None:
    variant = variant_of(module)
    if variant not in variant_names():
        choices = ", ".join(f"hear_byols.{name}" for name in variant_names())
        raise UsageError(f"--modules {module}: no such hear_byols module; the variants are {choices}")
    try:
        check_load_options(variant, options)
    except InvalidOptionError as error:
        raise UsageError(f"--model-options {json.dumps(options)} for {module}: {error}") from None


def check_other_module(module: str, options: Mapping[str, Any]) -> None:
    """A HEAR module of another package: importable, with a ``load_model`` that takes ``options``."""
    load_model = hear_load_model(module)
    try:
        inspect.signature(load_model).bind(**options)
    except TypeError as error:
        raise UsageError(f"--model-options {json.dumps(options)}: {module}.load_model {error}") from None


def hear_load_model(module: str) -> Callable[..., Any]:
    try:
        imported = importlib.import_module(module)
    except Exception as error:  # whatever a module raises on import, the user gets one line
        raise UsageError(
            f"--modules {module}: cannot be imported ({type(error).__name__}: {error}); name an installed HEAR "
            "module, e.g. hear_byols.cvt"
        ) from None
    load_model = getattr(imported, "load_model", None)
    if not callable(load_model):
        raise UsageError(f"--modules {module}: has no load_model, so it is not a HEAR 2021 module (e.g. hear_byols.cvt)")
    return load_model
