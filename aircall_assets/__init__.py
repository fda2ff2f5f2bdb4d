"""Aircall <-> warehouse as Dagster software-defined assets, with reverse sync."""

from aircall_assets.definitions import defs

__all__ = ["defs"]
