"""`make run`: materialize every asset into the Dagster instance, then print the headline indicators."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb

from orchestration.audit import run_summary

HEADLINE_SQL = """
WITH national AS (
    SELECT indicator_code, size_class, time_period, obs_value
    FROM marts.indicators
    WHERE ref_area = 'ID' AND breakdown = '_T' AND time_period LIKE ? || '-%'
)
SELECT time_period,
       max(obs_value) FILTER (indicator_code = 'ONLINE_SALES' AND size_class = '_T') / 1e9,
       max(obs_value) FILTER (indicator_code = 'ONLINE_SALES_GROWTH_MOM' AND size_class = '_T'),
       max(obs_value) FILTER (indicator_code = 'ONLINE_SALES_GROWTH_VS_BASE' AND size_class = '_T'),
       max(obs_value) FILTER (indicator_code = 'ONBOARDING_RATE' AND size_class = 'ULTRA_MIKRO'),
       max(obs_value) FILTER (indicator_code = 'ONBOARDING_RATE' AND size_class = '_T')
FROM national GROUP BY time_period ORDER BY time_period
"""

TRAINING_SQL = """
SELECT program_name, registrations, capacity, oversubscription_pct, completion_rate_pct
FROM marts.training_uptake ORDER BY start_date
"""


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def headline_report(published_db: Path, year: str | None = None) -> str:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        if year is None:
            year = con.execute("SELECT max(left(time_period, 4)) FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES'").fetchall()[0][0]
        base = con.execute("SELECT max(time_period) FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES_GROWTH_VS_BASE' AND obs_value = 0 AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T'").fetchall()[0][0]
        rows = con.execute(HEADLINE_SQL, [year]).fetchall()
        training = con.execute(TRAINING_SQL).fetchall()
        run_id, published_at = con.execute("SELECT run_id, published_at FROM meta.publication").fetchall()[0]
    finally:
        con.close()
    lines = [
        f"Headline indicators, Indonesia, {year} (published {published_at:%Y-%m-%d %H:%M} UTC, run {run_id[:8]})",
        f"{'month':<8} {'online sales':>14} {'MoM':>9} {'vs ' + (base or 'base'):>11} {'onboarded':>10} {'onboarded':>10}",
        f"{'':<8} {'(IDR bn)':>14} {'(%)':>9} {'(%)':>11} {'ultra-mikro %':>10} {'all UMKM %':>10}",
    ]
    for period, sales, mom, vs_base, rate_um, rate_all in rows:
        lines.append(
            f"{period:<8} {_fmt(sales, ',.2f'):>14} {_fmt(mom, '+.1f'):>9} {_fmt(vs_base, '+.1f'):>11} "
            f"{_fmt(rate_um, '.2f'):>13} {_fmt(rate_all, '.2f'):>10}"
        )
    lines += ["", f"{'training programme':<40} {'registrations':>13} {'capacity':>9} {'oversubscr. %':>14} {'completion %':>13}"]
    for name, registrations, capacity, oversubscription, completion in training:
        lines.append(f"{name:<40} {registrations:>13,} {capacity:>9,} {_fmt(oversubscription, '.1f'):>14} {_fmt(completion, '.1f'):>13}")
    lines.append(f"\nPublished database: {published_db}")
    return "\n".join(lines)


def _release_abandoned_runs(instance) -> None:
    """A `make run` killed outright (kill -9) leaves its run STARTED, holding the warehouse pool's
    slot; mark it failed and free the slot, so the next run does not wait for it forever."""
    import dagster as dg

    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={"dei/cli": "run"})):
        run = record.dagster_run
        try:
            os.kill(int(run.tags["dei/pid"]), 0)
            continue  # still running
        except (ProcessLookupError, KeyError, ValueError):
            pass
        instance.report_run_failed(run, "Its process is gone (killed before it could finish).")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def run() -> int:
    import dagster as dg

    from orchestration.defs.partitions import all_months_tags
    from orchestration.definitions import defs

    started = time.monotonic()
    warehouse = defs.resources["warehouse"]
    with dg.DagsterInstance.get() as instance:
        _release_abandoned_runs(instance)
        print(f"Materializing every asset (Dagster instance: {instance.root_directory}) ...", flush=True)
        result = defs.resolve_job_def("indicators_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            # Every landed month in one run (a single-run backfill of the monthly partitions).
            tags={**all_months_tags(warehouse.sources_path), "dei/cli": "run", "dei/pid": str(os.getpid())},
            # The run's full event log is in the instance (`make ui`); the terminal gets warnings.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    if warehouse.working_db.exists():
        con = duckdb.connect(str(warehouse.working_db), read_only=True)
        try:
            print("\n".join(run_summary(con, result.run_id).lines(str(warehouse.working_db))), flush=True)
        finally:
            con.close()
    if not result.success:
        print(f"\nRun {result.run_id} failed:", file=sys.stderr)
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  step {event.step_key}: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                print(f"  check {check.asset_key.to_user_string()}:{check.check_name} failed: {check.description}", file=sys.stderr)
        print(f"The published database was left as it was: {warehouse.published_db}", file=sys.stderr)
        return 1
    print(headline_report(warehouse.published_db))
    print(f"Run {result.run_id} succeeded in {time.monotonic() - started:.1f} s; see it with `make ui`.")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "report"])
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run())
    from orchestration import settings

    print(headline_report(settings.warehouse_dir() / settings.PUBLISHED_DB_NAME))


if __name__ == "__main__":
    main()
