"""The code location: one ``dg.Definitions`` built from the catalog and the settings file."""

import dagster as dg

from aircall_assets.assets import IO_MANAGER_KEY, build_extract_assets
from aircall_assets.resources import aircall_resource, warehouse_io_manager
from aircall_assets.reverse_sync.definitions import build_reverse_sync
from aircall_assets.schedules import build_jobs, build_schedules, build_sensors
from aircall_assets.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    reverse = build_reverse_sync(settings)
    return dg.Definitions(
        assets=build_extract_assets(settings) + reverse.assets,
        jobs=build_jobs(settings) + reverse.jobs,
        schedules=build_schedules(settings),
        sensors=build_sensors(settings) + reverse.sensors,
        resources={
            "aircall": aircall_resource(),
            IO_MANAGER_KEY: warehouse_io_manager(),
        },
    )


defs = build_definitions(load_settings())
