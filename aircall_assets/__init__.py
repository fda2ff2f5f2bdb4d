"""Aircall <-> warehouse as Dagster software-defined assets, with reverse sync.

``AircallComponent`` puts one Aircall account into any Dagster project; ``defs`` is this
repository's code location. Both are imported when first asked for, and ``defs`` builds its
definitions only when Dagster loads it: importing any module of the package reads no settings
and builds nothing, so ``python -m aircall_assets status`` starts even with a broken settings
file and reports it in one clear message.
"""

from importlib import import_module
from typing import Any

_LAZY = {"AircallComponent": "aircall_assets.component", "defs": "aircall_assets.definitions"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
