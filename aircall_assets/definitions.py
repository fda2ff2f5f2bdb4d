"""The definitions of one or several Aircall accounts, and this repository's code location.

Each account (one ``Settings``) brings its assets, jobs, schedules, sensors and its two
resources under its own keys (see ``account.py``), so accounts merge into one code location
without colliding. This repository's code location is the default account of ``aircall.yaml``;
another project adds accounts as ``AircallComponent`` ``defs.yaml`` files instead.
"""

import dagster as dg

from aircall_assets.analytics import build_analytics_assets
from aircall_assets.assets import build_extract_assets
from aircall_assets.insights import build_insight_assets
from aircall_assets.recordings.asset import build_recording_assets
from aircall_assets.resources import aircall_resource, warehouse_io_manager
from aircall_assets.reverse_sync.definitions import build_reverse_sync
from aircall_assets.schedules import build_jobs, build_schedules, build_sensors
from aircall_assets.settings import Settings, load_settings


def build_account_definitions(settings: Settings) -> dg.Definitions:
    """One account's definitions, with the resources its assets and ops require."""
    reverse = build_reverse_sync(settings)
    names = settings.names
    return dg.Definitions(
        assets=build_extract_assets(settings)
        + build_insight_assets(settings)
        + build_analytics_assets(settings)
        + build_recording_assets(settings)
        + reverse.assets,
        jobs=build_jobs(settings) + reverse.jobs,
        schedules=build_schedules(settings),
        sensors=build_sensors(settings) + reverse.sensors,
        resources={
            names.aircall_resource_key: aircall_resource(settings),
            names.io_manager_key: warehouse_io_manager(),
        },
    )


def build_definitions(*accounts: Settings) -> dg.Definitions:
    """The definitions of every account given, merged into one code location."""
    return dg.Definitions.merge(*(build_account_definitions(s) for s in accounts))


@dg.definitions
def defs() -> dg.Definitions:
    """This repository's code location, built when Dagster loads it (not at import): the
    default account of ``aircall.yaml``."""
    return build_definitions(load_settings())
