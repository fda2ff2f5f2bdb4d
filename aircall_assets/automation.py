"""When the assets downstream of a range of calls run by themselves: right after that load.

Recording links expire about an hour after the calls were read, and AI results of the day's
calls are best asked while the day is being re-read; both are wanted for exactly the partitions
whose calls were just loaded. Not the partitions merely missing (turning a feature on would
then ask the whole history, one request per call, through links long expired), and not only the
latest day as ``eager()`` would (the daily run's lookback days retry what failed; a backfill of
calls brings its range). The account's automation sensor evaluates it.
"""

import dagster as dg

AFTER_CALLS_LOAD = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after the calls' load")
