"""Aircall <-> warehouse as Dagster software-defined assets, with reverse sync.

``defs``, the code location, is built when it is first asked for (Dagster loading this module,
``from aircall_assets import defs``), not when the package is imported: so the command line
(``python -m aircall_assets status``) starts even with a broken settings file, and reports it
in one clear message instead of a traceback out of the import.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from aircall_assets.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "defs"})
