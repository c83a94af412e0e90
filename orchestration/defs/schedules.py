"""The monthly schedule: last month's sales and onboarding, and everything downstream."""

import datetime as dt

import dagster as dg

from orchestration.defs.jobs import monthly_job
from orchestration.settings import TIMEZONE, reporting_period


@dg.schedule(
    name="monthly_schedule",
    job=monthly_job,
    cron_schedule="0 6 5 * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Previous month's partition of the monthly feeds and everything downstream, on the 5th at 06:00 Asia/Jakarta.",
)
def monthly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    # By the 5th (Jakarta), platforms have sent last month's files. The current month is a
    # partition too (a partial month may land), so the partition is named, not "the last one".
    previous = context.scheduled_execution_time.replace(day=1) - dt.timedelta(days=1)
    period = reporting_period()
    if period is not None and previous.strftime("%Y-%m") > period.last_month:
        return dg.SkipReason(f"The reporting period {period} declared in {period.declared_in} has ended: no month {previous:%Y-%m} to run.")
    return dg.RunRequest(partition_key=previous.strftime("%Y-%m-01"))
