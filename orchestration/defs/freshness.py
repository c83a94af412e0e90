"""Freshness: a warning when the newest month of sales is older than it should be."""

import datetime as dt

import dagster as dg

from orchestration import settings
from orchestration.contracts import load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.raw import raw_key
from orchestration.defs.resources import WarehouseResource
from orchestration.settings import next_month

SALES = raw_key(load_contracts().feeds["sales"])


def sales_staleness(newest_day: dt.date | None, today: dt.date, max_age_days: int) -> tuple[bool, str]:
    """Whether the newest sales month is recent enough: its month must have ended at most
    `max_age_days` ago (platforms send a month's files after it ends)."""
    if newest_day is None:
        return False, "raw.sales holds no sales"
    month_end = next_month(newest_day) - dt.timedelta(days=1)
    age = (today - month_end).days
    month = newest_day.strftime("%Y-%m")
    if age > max_age_days:
        return False, f"the newest sales month is {month}, which ended {age} days ago (allowed: {max_age_days})"
    return True, f"the newest sales month is {month}, which ended {max(age, 0)} days ago (allowed: {max_age_days})"


@dg.asset_check(
    asset=SALES,
    name="sales_freshness",
    description=(
        f"Warns when the newest month in raw.sales ended more than {settings.SALES_MAX_AGE_DAYS.name} days ago "
        f"(default {settings.DEFAULT_SALES_MAX_AGE_DAYS}), in Asia/Jakarta time; for a landing zone that "
        f"declares its reporting period ({settings.REPORTING_PERIOD_FILE}), days before the period's end."
    ),
    pool=WAREHOUSE_POOL,
)
def sales_freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        newest = con.execute("SELECT max(sale_date) FROM raw.sales").fetchall()[0][0]
    judged_on = settings.freshness_date(warehouse.sources_path)
    passed, description = sales_staleness(newest, judged_on, settings.sales_max_age_days())
    if judged_on < settings.today():
        period = settings.reporting_period(warehouse.sources_path)
        description += f", judged at the end of the reporting period {period} declared in {period.declared_in}"
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"newest_sale_date": str(newest), "max_age_days": settings.sales_max_age_days(), "judged_on": str(judged_on)},
    )
