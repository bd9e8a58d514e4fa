"""An option of ``pretrain`` declared once: a dataclass field whose default, checker and help
make both the ``PretrainConfig`` field and its command-line flag.

Each field's ``parse`` is one of ``hear_byols.argtypes``' checkers (the ones ``embed`` uses):
argparse applies it to the text of a flag, and ``check_options`` to the value of a config built
in Python, so a count out of range is refused the same way on both paths.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Sequence

from hear_byols.errors import InvalidOptionError

Choices = Sequence[str] | Callable[[], Sequence[str]]


def option(default: Any = dataclasses.MISSING, *, help: str, parse: Callable[[str], Any] | None = None,
           choices: Choices | None = None, metavar: str | None = None, positional: bool = False) -> Any:
    """A config field with its flag's declaration. ``choices`` may be a function (read when
    needed: the variant names come from the configs). Without a default the flag is required."""
    meta = {"help": help, "parse": parse, "choices": choices, "metavar": metavar, "positional": positional}
    return dataclasses.field(default=default, metadata={"option": meta})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _choices(meta: dict[str, Any]) -> Sequence[str] | None:
    choices = meta["choices"]
    return choices() if callable(choices) else choices


def add_flags(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One argparse argument per field of ``config_class`` (booleans are switches)."""
    for field in dataclasses.fields(config_class):
        meta = field.metadata["option"]
        kwargs: dict[str, Any] = {"help": meta["help"]}
        if meta["positional"]:
            parser.add_argument(field.name, nargs="+", metavar=meta["metavar"], **kwargs)
            continue
        if field.default is False:
            parser.add_argument(flag(field.name), action="store_true", **kwargs)
            continue
        required = field.default is dataclasses.MISSING
        kwargs.update(required=required, type=meta["parse"], choices=_choices(meta), metavar=meta["metavar"])
        if not required:
            kwargs["default"] = field.default
        parser.add_argument(flag(field.name), **{k: v for k, v in kwargs.items() if v is not None or k == "default"})


def check_options(config: object) -> None:
    """``InvalidOptionError`` naming the flag when a field's value is out of its range or choices
    (what argparse would have refused as the flag's text)."""
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        meta, value = field.metadata["option"], getattr(config, field.name)
        choices = _choices(meta)
        if value is None or isinstance(value, bool) and field.default is False:
            continue
        if choices is not None and value not in choices:
            raise InvalidOptionError(f"{flag(field.name)} {value!r}: choose one of {', '.join(choices)}")
        if meta["parse"] is not None:
            try:
                if isinstance(value, bool) or meta["parse"](str(value)) != value:
                    raise argparse.ArgumentTypeError(f"{value!r}: expected {field.type}")
            except argparse.ArgumentTypeError as exc:
                raise InvalidOptionError(f"{flag(field.name)} {exc}") from None
