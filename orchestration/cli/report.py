"""What `make run` prints: the steps as they run, the load summary, the checks, a failure's cause
and what to do, the headline indicators of what it published; and the exit status that goes with it."""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from orchestration.ingest.audit import RunSummary, run_summary
from orchestration.quality.reconciliation import reconciliation
from orchestration.serving.provenance import captions, catalog_provenance
from orchestration.serving.releases import claims, claims_table, latest_release_revisions
from orchestration.sql import records
from orchestration.text import printable

# The exit status of `run` and `rebuild`, for a scheduler to act on (docs/operations.md, "Exit status").
PUBLISHED = 0  # published; every landed file loaded, or unchanged since it was
NOT_PUBLISHED = 1  # nothing published (a step, a blocking check or a settings file failed): the published database is as it was
PUBLISHED_WITH_REJECTED = 3  # published, but at least one landed file was rejected or held back: its rows are not in it
EXIT_STATUS = f"""exit status (run, rebuild):
  {PUBLISHED}  published; every landed file loaded, or unchanged since its last load
  {PUBLISHED_WITH_REJECTED}  published, but some landed files were rejected or held back (listed in the summary;
     rows of their earlier versions, if any, stay loaded)
  {NOT_PUBLISHED}  not published: a step, a blocking check or a settings file failed (the cause and what to do
     are printed; the published database was left as it was)
  2  the command line is wrong"""

# The national headline series, value and status, in the latest 12 months any of them has.
HEADLINE_SERIES = (
    ("ONLINE_SALES", "_T"),
    ("ONLINE_SALES_GROWTH_MOM", "_T"),
    ("ONLINE_SALES_GROWTH_VS_BASE", "_T"),
    ("ONBOARDING_RATE", "ULTRA_MIKRO"),
    ("ONBOARDING_RATE", "_T"),
)
HEADLINE_SQL = """
WITH series AS (SELECT unnest($codes) AS indicator_code, unnest($classes) AS size_class, generate_subscripts($codes, 1) AS i),
national AS (
    SELECT series.i, n.time_period, n.obs_value, n.obs_status
    FROM marts.indicators n JOIN series USING (indicator_code, size_class)
    WHERE n.ref_area = 'ID' AND n.breakdown = '_T'
),
months AS (SELECT DISTINCT time_period FROM national ORDER BY time_period DESC LIMIT 12)
SELECT time_period, list(struct_pack(i, obs_value, obs_status)) FILTER (i IS NOT NULL) AS series
FROM months LEFT JOIN national USING (time_period)
GROUP BY time_period ORDER BY time_period
"""

# The indicators the two headline tables show, whose origin the headline states.
HEADLINE_INDICATORS = (
    "ONLINE_SALES", "ONLINE_SALES_GROWTH_MOM", "ONLINE_SALES_GROWTH_VS_BASE", "ONBOARDING_RATE",
    "TRAINING_REGISTRATIONS", "TRAINING_CAPACITY", "TRAINING_OVERSUBSCRIPTION", "TRAINING_COMPLETION_RATE",
)  # fmt: skip

# The latest national figure of every indicator from a published table (none on the sample alone).
PUBLISHED_SQL = """
SELECT i.indicator_code, i.time_period, i.obs_value, i.unit_measure, i.obs_status
FROM marts.indicators i JOIN marts.indicator_catalog c USING (indicator_code)
WHERE c.origin = 'published' AND i.ref_area = 'ID' AND i.size_class = '_T' AND i.breakdown = '_T' AND i.obs_value IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY i.indicator_code ORDER BY i.period_start DESC) = 1
ORDER BY i.indicator_code
"""

TRAINING_SQL = """
SELECT program_name, registrations, capacity, oversubscription_pct, completion_rate_pct
FROM marts.training_uptake ORDER BY start_date
"""

# Why a headline value is n/a: its SDMX status (the label from marts.code_labels), or no observation.
NO_OBSERVATION = "-"
WHY_MISSING = {
    "L": "a file the month needs has not landed (`make audit`, marts.feed_completeness)",
    "M": "e.g. a growth rate against a zero base, or across a break in the series",
    NO_OBSERVATION: "no observation for the month: the series' feed has landed no file for it yet",
}


def _fmt(value: float | None, spec: str, status: str | None = None) -> str:
    return f"n/a ({status or NO_OBSERVATION})" if value is None else format(value, spec)


def headline_report(published_db: Path) -> str:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        base = con.execute(
            "SELECT max(time_period) FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES_GROWTH_VS_BASE' AND obs_value = 0 "
            "AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T'"
        ).fetchone()[0]
        rows = records(con.execute(HEADLINE_SQL, {"codes": [c for c, _ in HEADLINE_SERIES], "classes": [k for _, k in HEADLINE_SERIES]}))
        status_labels = dict(con.execute("SELECT code, label FROM marts.code_labels WHERE code_list = 'OBS_STATUS'").fetchall())
        training = con.execute(TRAINING_SQL).fetchall()
        run_id, published_at, release_id = con.execute("SELECT run_id, published_at, release_id FROM meta.publication").fetchall()[0]
        last_release = latest_release_revisions(con)
        claim_rows = claims(con)
        catalog = catalog_provenance(con)
        published = records(con.execute(PUBLISHED_SQL))
        reconciled = reconciliation(con)
    finally:
        con.close()
    months = f"{rows[0].time_period} to {rows[-1].time_period}" if rows else "no month yet"
    lines = [
        f"Headline indicators, Indonesia, the latest {len(rows)} months: {months} (published {published_at:%Y-%m-%d %H:%M} UTC, run {run_id[:8]}, release {release_id})",
        *captions(catalog, HEADLINE_INDICATORS),
        f"{'month':<8} {'online sales':>14} {'MoM':>9} {'vs ' + (base or 'base'):>11} {'onboarded':>13} {'onboarded':>10}",
        f"{'':<8} {'(IDR bn)':>14} {'(%)':>9} {'(%)':>11} {'Ultra-micro %':>13} {'all UMKM %':>10}",
    ]
    missing = set()
    formats = (",.2f", "+.1f", "+.1f", ".2f", ".2f")
    widths = (14, 9, 11, 13, 10)
    for period, series in rows:
        observed = {x["i"]: (x["obs_value"], x["obs_status"]) for x in series}
        cells = [observed.get(i, (None, None)) for i in range(1, len(HEADLINE_SERIES) + 1)]
        cells[0] = (None if cells[0][0] is None else cells[0][0] / 1e9, cells[0][1])  # IDR bn
        missing |= {status or NO_OBSERVATION for value, status in cells if value is None}
        lines.append(f"{period:<8} " + " ".join(f"{_fmt(value, spec, status):>{width}}" for (value, status), spec, width in zip(cells, formats, widths, strict=True)))
    for status in sorted(missing):
        label = status_labels.get(status, "")
        lines.append(f"  n/a ({status}): {label + ': ' if label else ''}{WHY_MISSING.get(status, '')}")
    lines += ["", f"{'training programme':<40} {'registrations':>13} {'capacity':>9} {'oversubscr. %':>14} {'completion %':>13}"]
    for name, registrations, capacity, oversubscription, completion in training:
        lines.append(f"{printable(name):<40} {registrations:>13,} {capacity:>9,} {_fmt(oversubscription, '.1f'):>14} {_fmt(completion, '.1f'):>13}")
    if published:
        lines += ["", "Published tables, Indonesia, latest figure", f"{'indicator':<28} {'period':<8} {'value':>10} {'unit':<6} status"]
        lines += [f"{code:<28} {period:<8} {value:>10,.2f} {unit:<6} {status}" for code, period, value, unit, status in published]
        lines += captions(catalog, [row.indicator_code for row in published])
    lines += ["", last_release.line(), "", *claims_table(claim_rows), "", reconciled.line()]
    lines.append(f"\nPublished database: {published_db}")
    return "\n".join(lines)


def error_chain(error) -> Iterator:
    """A step's error (a SerializableErrorInfo), then what caused it or was being handled when it
    was raised, depth first."""
    if error is not None:
        yield error
        yield from error_chain(error.cause)
        yield from error_chain(error.context)


def failure_cause(error, warehouse_dir: Path) -> tuple[str, str | None]:
    """The underlying cause of a step failure in one line (the OS's or DuckDB's message) and what
    to do about it; for a cause not known here, the innermost error's message and no advice."""
    from orchestration import settings
    from orchestration.defs.resources import LOCK_ERROR

    known = (
        (re.escape(LOCK_ERROR),
         "another program has the working database open (its PID is above): close it or let it finish, then `make run` "
         "again; BI tools should open indicators.duckdb read-only, never working.duckdb."),
        ("No space left on device",
         f"the disk holding {warehouse_dir} is full (DuckDB also spills there beyond DEI_DUCKDB_MEMORY_LIMIT): free space, "
         "then `make run` again."),
        ("Read-only file system",
         f"{warehouse_dir} is on a read-only file system: make it writable or set DEI_WAREHOUSE_DIR to a writable "
         "directory, then `make run` again."),
        ("Permission denied",
         f"this user may not write in {warehouse_dir}: give it write access or set DEI_WAREHOUSE_DIR to a directory it "
         "owns, then `make run` again."),
        ("Failure while replaying WAL|WAL does not match database file",
         "the write-ahead log beside the working database (working.duckdb.wal) is not that database's (copied or left from "
         "another file): `make rebuild` moves the working database and that WAL aside (kept, not deleted) and rebuilds and "
         "republishes everything from the landed files."),
        ("Corrupt database file|stored checksum|not a valid DuckDB database file|Could not read enough bytes from file",
         "the database file named above is damaged (truncated or corrupt): `make rebuild` moves the working database "
         "aside (kept, not deleted) and rebuilds and republishes everything from the landed files."),
        ("JAVA_GATEWAY_EXITED|JAVA_HOME is not set|java: not found|Unable to locate a Java Runtime",
         f"{settings.ENGINE.name}=spark needs Java 17 for Spark: `make run` installs Debian's openjdk-17-jre-headless when `java` is "
         f"missing (or set JAVA_HOME), then `make run` again; unset {settings.ENGINE.name} to run on DuckDB."),
        ("No module named '(pyspark|dbt.adapters.spark|dagster_postgres|psycopg2)",
         f"this setting needs an optional part of the install (Spark for {settings.ENGINE.name}=spark, PostgreSQL for "
         "DEI_DAGSTER_STORAGE=postgres): `make run` with the setting installs it, then runs."),
        ("Unable to instantiate org.apache.hadoop.hive.ql.metadata.SessionHiveMetaStoreClient",
         "Spark could not open its catalog (metastore_db in DEI_LAKE_DIR), most often because another process (a run, "
         "a notebook) has it open: one process owns it at a time. Let that process finish or stop it, then `make run` again."),
    )  # fmt: skip
    chain = list(error_chain(error))
    for info in chain:
        for line in info.message.splitlines():
            for pattern, advice in known:
                if re.search(pattern, line):
                    return line.strip(), advice
    return (chain[-1].message.strip() if chain else "no error recorded"), None


def failure_report(result, warehouse) -> list[str]:
    """Which steps and checks failed, why, what to do, and what became of the published database."""
    steps_by_cause: dict[str, list[str]] = {}
    advice: list[str] = []
    for event in result.all_events:
        if event.is_step_failure:
            cause, todo = failure_cause(event.step_failure_data.error, warehouse.warehouse_path)
            steps_by_cause.setdefault(cause, []).append(event.step_key)
            if todo and todo not in advice:
                advice.append(todo)
    lines = [f"Run {result.run_id} failed:"]
    lines += [f"  {'steps' if len(steps) > 1 else 'step'} {', '.join(steps)}: {printable(cause)}" for cause, steps in steps_by_cause.items()]
    for check in result.get_asset_check_evaluations():
        if not check.passed and check.severity.value != "WARN":  # warnings are listed with the summary
            lines.append(f"  check {check.asset_key.to_user_string()}:{check.check_name} failed: {printable(check.description or '')}")
    lines += [f"What to do: {todo}" for todo in advice]
    lines.append(published_state(warehouse.published_db))
    return lines


def published_state(published_db: Path) -> str:
    """What a failed run left published."""
    if published_db.exists():
        return f"The published database was left as it was: {published_db}"
    return f"No database has been published yet: {published_db} is written by the first run that succeeds."


class StepProgress:
    """Prints each step of a run as it starts and ends: time, duration, what it wrote, its checks.
    Called with every event of the run as it is stored."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, str]] = {}  # step -> asset -> what it wrote
        self.checks: dict[str, list[bool]] = {}

    def __call__(self, entry) -> None:
        import dagster as dg

        event = entry.dagster_event
        if event is None or entry.step_key is None:
            return
        step, at = entry.step_key, time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
        if event.event_type == dg.DagsterEventType.STEP_START:
            print(f"{at}  {step} ...", flush=True)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            if "rows_loaded" in metadata:
                rows = f"{metadata['rows_loaded']:,} rows loaded"
            else:
                rows = f"{metadata['dagster/row_count']:,} rows" if "dagster/row_count" in metadata else ""
            # A range run materializes each partition: an asset is counted once.
            self.written.setdefault(step, {})[materialization.asset_key.to_user_string()] = rows
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            self.checks.setdefault(step, []).append(event.event_specific_data.passed)
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            done = "done" if event.event_type == dg.DagsterEventType.STEP_SUCCESS else "FAILED"
            duration = f" in {event.event_specific_data.duration_ms / 1000:.1f} s" if done == "done" else ""
            print(f"{at}  {step} {done}{duration}{self._outcome(step)}", flush=True)

    def _outcome(self, step: str) -> str:
        written = self.written.get(step, {})
        rows = [f"{asset} {rows}" for asset, rows in written.items() if rows]
        parts = rows if rows else ([_count(len(written), "asset")] if written else [])
        if checks := self.checks.get(step):
            failed = checks.count(False)
            parts.append(_count(len(checks), "check") + (f", {failed} not passed" if failed else " passed"))
        return f": {'; '.join(parts)}" if parts else ""


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def warning_lines(result) -> list[str]:
    """Every WARN check that did not pass, one line each."""
    return [
        f"  WARN {check.asset_key.to_user_string()}:{check.check_name}: {printable(' '.join((check.description or '').split()))}"
        for check in result.get_asset_check_evaluations()
        if not check.passed and check.severity.value == "WARN"
    ]


def period_line(result) -> str | None:
    """When the landing zone declares a reporting period and its data are older than the freshness
    limit today, a line saying freshness was judged at the period's end."""
    from orchestration import settings
    from orchestration.defs.freshness import sales_staleness

    period = settings.reporting_period()
    freshness = [c for c in result.get_asset_check_evaluations() if c.check_name == "sales_freshness"]
    if period is None or not freshness or freshness[0].metadata["newest_sale_date"].value == "None":
        return None
    newest = dt.date.fromisoformat(freshness[0].metadata["newest_sale_date"].value)
    if sales_staleness(newest, settings.today(), settings.sales_max_age_days())[0]:
        return None
    return (
        f"Reporting period {period} (declared in {period.declared_in}): freshness judged at its end, {period.last_day}; "
        f"today the newest sales month, {newest:%Y-%m}, is older than {settings.sales_max_age_days()} days."
    )


def implausible_line(result) -> str | None:
    """When the run publishes a month the plausibility check flagged, a line saying so, next to the
    figures it concerns (the check's warning above names the rows that carry it)."""
    from orchestration.defs.plausibility import CHECK_NAME, SALES_GROWTH

    for check in result.get_asset_check_evaluations():
        if check.check_name == CHECK_NAME and check.asset_key == SALES_GROWTH and not check.passed and "flagged" in check.metadata:
            months = [f"{f['series']} {f['month']}" for f in check.metadata["flagged"].value]
            return (
                f"Published with {len(months)} implausible month(s) of online sales: {', '.join(months)}; "
                f"see WARN {SALES_GROWTH.to_user_string()}:{CHECK_NAME} for the rows that carry them."
            )
    return None


def progress_bar(items, description: str):
    from rich.progress import track

    return track(items, description=f"          {description}", transient=True)


def print_settings_failure(error: Exception, published_db: Path) -> int:
    """A settings file the run cannot start with: what is wrong, what to do."""
    from orchestration import settings

    print(f"Run failed before loading anything: {error}", file=sys.stderr)
    print(
        f"What to do: correct it ({settings.REPORTING_PERIOD_FILE} declares first_month and last_month, YYYY-MM, each once; "
        "or delete that file to judge months against today), then `make run` again.",
        file=sys.stderr,
    )
    print(published_state(published_db), file=sys.stderr)
    return NOT_PUBLISHED


def print_unchanged(last: str, working_db: Path, published_db: Path, started: float) -> int:
    """A run with nothing landed or changed since run `last`: what that run left unloaded, and the headline."""
    print(f"Nothing landed or changed since run {last[:8]} (same files, code and settings): nothing to load, build or publish.")
    with duckdb.connect(str(working_db), read_only=True) as con:
        last_summary = run_summary(con, last)
    if not_loaded := last_summary.not_loaded:
        print(f"Still not loaded since that run: {len(last_summary.rejected)} landed file(s) rejected, {len(last_summary.held)} held back.")
        print("\n".join(not_loaded))
    print(headline_report(published_db))
    print(f"Checked in {time.monotonic() - started:.1f} s.")
    return PUBLISHED_WITH_REJECTED if not_loaded else PUBLISHED


def published(result) -> bool:
    """Whether the run succeeded and published the database (not when every changed file was rejected)."""
    import dagster as dg

    published_key = dg.AssetKey(["published", "indicators_db"])
    return result.success and any(e.is_step_materialization and e.asset_key == published_key for e in result.all_events)


def print_run(result, warehouse, summary: RunSummary | None, started: float) -> int:
    """After a run: the load summary, the checks, the warnings; then why it failed and what to do,
    or the headline of what it published."""
    if summary is not None:
        print("\n".join(summary.lines(str(warehouse.working_db))), flush=True)
    checks = result.get_asset_check_evaluations()
    print(f"Checks: {sum(c.passed for c in checks)} of {len(checks)} passed.")
    if notes := [*warning_lines(result), *filter(None, [period_line(result)])]:
        print("\n".join(notes), flush=True)
    if not result.success:
        print("\n" + "\n".join(failure_report(result, warehouse)), file=sys.stderr)
        return NOT_PUBLISHED
    if not published(result):
        # Not recorded as done: the next `make run` loads the landed files again and says so again.
        print(
            f"\nNOTHING NEW PUBLISHED by run {result.run_id}: every file that landed or changed since the last run was "
            f"rejected (listed above) and nothing else changed, so {warehouse.published_db} was left as it was. "
            "Correct or remove the rejected files (`make audit` shows why each was rejected), then `make run` again.",
            file=sys.stderr,
        )
        return NOT_PUBLISHED
    if implausible := implausible_line(result):
        print(implausible)
    print(headline_report(warehouse.published_db))
    if summary is not None and summary.not_loaded:
        print(
            f"Run {result.run_id} published in {time.monotonic() - started:.1f} s without the rows landed in {len(summary.rejected)} rejected "
            f"and {len(summary.held)} held-back file(s) (exit status {PUBLISHED_WITH_REJECTED}); see it with `make ui`."
        )
        return PUBLISHED_WITH_REJECTED
    print(f"Run {result.run_id} succeeded in {time.monotonic() - started:.1f} s; see it with `make ui`.")
    return PUBLISHED
