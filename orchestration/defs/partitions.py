"""Monthly partitions: the month-grained feeds (sales, onboarding) and the models built from them."""

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.contracts import is_monthly, load_contracts
from orchestration.ingest.landing import file_month, landed_in_scope
from orchestration.settings import next_month

# BackfillPolicy is marked beta; it is what makes a backfill one run, which DuckDB needs.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def monthly_partitions() -> dg.MonthlyPartitionsDefinition:
    """The months a landed file may be for: from the warehouse's first month to the current month
    in Jakarta (which may hold a partial month), or to the end of the reporting period the landing
    zone declares when that is earlier: no partition shows as missing that no file could fill."""
    first, last = settings.partition_months()
    start = f"{first}-01"
    if last < settings.current_month():
        end = next_month(dt.date.fromisoformat(f"{last}-01")).isoformat()
        return dg.MonthlyPartitionsDefinition(start_date=start, end_date=end, timezone=settings.TIMEZONE)
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=settings.TIMEZONE, end_offset=1)


monthly = monthly_partitions()

# Backfilling many months is one run: one DuckDB writer, one dbt invocation, no race to create tables.
single_run = dg.BackfillPolicy.single_run()

# Every asset and check that opens the working database takes the one slot of this pool
# (dagster.yaml: concurrency.pools.default_limit = 1), so runs never fight over DuckDB's write lock.
WAREHOUSE_POOL = "duckdb_warehouse"


def month_keys(window: dg.TimeWindow) -> list[str]:
    """`YYYY-MM` of every month in a partition time window."""
    months, current = [], window.start
    while current < window.end:
        months.append(current.strftime("%Y-%m"))
        current = next_month(current)
    return months


def partition_range_tags(first_month: str, last_month: str) -> dict[str, str]:
    """Run tags materializing every month from `first_month` to `last_month` (YYYY-MM) in one run."""
    return {
        "dagster/asset_partition_range_start": f"{first_month}-01",
        "dagster/asset_partition_range_end": f"{last_month}-01",
    }


def run_months(tags: dict[str, str]) -> tuple[str, str] | None:
    """First and last partition key (first days of months) of a partitioned run, from its tags."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    if "dagster/asset_partition_range_start" in tags:
        return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]
    return None


def months_landed(sources_dir: Path) -> list[str]:
    """Every month (YYYY-MM) that a monthly feed has a file for, sorted."""
    months = set()
    for feed in load_contracts().feeds.values():
        if is_monthly(feed):
            files, _misnamed = landed_in_scope(feed, sources_dir, None)  # misnamed: rejected when its feed loads
            months.update(file_month(feed, rel) for _, rel in files)
    return sorted(months)


def all_months_tags(sources_dir: Path) -> dict[str, str]:
    """Tags of one run over every landed month (what `make run` materializes)."""
    months = months_landed(sources_dir)
    if not months:
        raise ValueError(f"no monthly feed has files under {sources_dir}")
    return partition_range_tags(months[0], months[-1])
