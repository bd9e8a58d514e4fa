"""The environment variables that steer where weights are found and whether they are fetched.

Kept apart so the download and the resolution code read them the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from hear_byols.errors import InvalidOptionError

#: Directory searched first for official weight files (e.g. a shared read-only folder).
WEIGHTS_DIR_ENV = "HEAR_BYOLS_WEIGHTS_DIR"
#: Where downloads go; default ``$XDG_CACHE_HOME/hear_byols`` or ``~/.cache/hear_byols``.
CACHE_DIR_ENV = "HEAR_BYOLS_CACHE_DIR"
#: Base URL tried before the registry URLs: ``<mirror>/<filename>`` (http(s):// or file://).
MIRROR_ENV = "HEAR_BYOLS_MIRROR"
#: ``1``/``true``/``yes``/``on``: never download, fail with where to put the file instead.
OFFLINE_ENV = "HEAR_BYOLS_OFFLINE"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_value(name: str) -> str | None:
    """The variable's value, or None when it is unset or blank (blank means unset)."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_path(name: str) -> Path | None:
    """The variable's value as a path (``~`` expanded), or None when unset."""
    value = env_value(name)
    return Path(value).expanduser() if value else None


def offline_mode() -> bool:
    """Whether downloads are switched off; an unrecognised value is an error, not a guess."""
    value = (env_value(OFFLINE_ENV) or "0").lower()
    if value not in _TRUE | _FALSE:
        raise InvalidOptionError(
            f"{OFFLINE_ENV}={value!r} is not understood; use one of {sorted(_TRUE)} to work offline "
            f"or {sorted(_FALSE)} (or unset it) to allow downloads"
        )
    return value in _TRUE
