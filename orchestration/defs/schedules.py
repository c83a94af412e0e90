"""The monthly schedule: last month's sales and onboarding, and everything downstream."""

import dagster as dg

from orchestration.defs.jobs import monthly_job

# On the 5th at 06:00 Asia/Jakarta (the partitions' time zone), platforms have sent last month's
# files; the run materializes last month's partition. Off until turned on (Automation in the UI).
monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_job,
    name="monthly_schedule",
    day_of_month=5,
    hour_of_day=6,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Previous month's partition of the monthly feeds and everything downstream, on the 5th at 06:00 Asia/Jakarta.",
)
