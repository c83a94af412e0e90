"""Where things live. Everything is configured by environment variables with repo-relative defaults."""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
CONTRACTS_FILE = REPO_ROOT / "sources" / "contracts.yml"

WORKING_DB_NAME = "working.duckdb"
PUBLISHED_DB_NAME = "indicators.duckdb"
# Every release's observations (dbt snapshot) and meta.releases: kept apart from the working
# database, since a rebuild from the landed files cannot bring history back.
HISTORY_DB_NAME = "history.duckdb"


def _dir_from_env(var: str, default: str) -> Path:
    path = Path(os.environ.get(var) or default)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def sources_dir() -> Path:
    """Landing zone the feeds are read from (`DEI_SOURCES_DIR`, default `sources`)."""
    return _dir_from_env("DEI_SOURCES_DIR", "sources")


def warehouse_dir() -> Path:
    """Folder holding the DuckDB files (`DEI_WAREHOUSE_DIR`, default `warehouse`)."""
    return _dir_from_env("DEI_WAREHOUSE_DIR", "warehouse")


def superset_home_dir() -> Path:
    """Superset's state for `make dashboard` (`DEI_SUPERSET_HOME`, default `.superset_home`)."""
    return _dir_from_env("DEI_SUPERSET_HOME", ".superset_home")


DEFAULT_MAX_QUARANTINED_SHARE = 0.01


def max_quarantined_share() -> float:
    """Largest share of a file's rows that may be quarantined before its raw asset's check fails
    (`DEI_MAX_QUARANTINED_SHARE`, default 0.01)."""
    return float(os.environ.get("DEI_MAX_QUARANTINED_SHARE") or DEFAULT_MAX_QUARANTINED_SHARE)


DEFAULT_SALES_MAX_AGE_DAYS = 45


def sales_max_age_days() -> int:
    """Days after the end of the newest sales month before the freshness check warns
    (`DEI_SALES_MAX_AGE_DAYS`, default 45)."""
    return int(os.environ.get("DEI_SALES_MAX_AGE_DAYS") or DEFAULT_SALES_MAX_AGE_DAYS)


# What DuckDB may hold in memory before it spills to disk. Python with Dagster, dbt and Pandera
# loaded takes ~320 MB; with this a run over 10M sales rows peaks near 1 GB. dbt's profile has the same default.
DEFAULT_DUCKDB_MEMORY_LIMIT = "600MB"


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for every connection of a run, dbt's included
    (`DEI_DUCKDB_MEMORY_LIMIT`, default 600MB)."""
    return os.environ.get("DEI_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT


# Months are Jakarta months: a file for a month after the current one there is a landing mistake.
TIMEZONE = "Asia/Jakarta"
DEFAULT_FIRST_MONTH = "2019-01"


def first_month() -> str:
    """The warehouse's first month, YYYY-MM (`DEI_FIRST_MONTH`, default 2019-01): the first monthly
    partition; a landed file for an earlier month is rejected."""
    return os.environ.get("DEI_FIRST_MONTH") or DEFAULT_FIRST_MONTH


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s (works on datetimes too)."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def today() -> dt.date:
    """Today in Jakarta."""
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def current_month() -> str:
    """This month in Jakarta, YYYY-MM: the last month a landed file may be for."""
    return today().strftime("%Y-%m")


# A landing zone that will not grow (the committed sample) declares the months it reports on, so
# that partitions and freshness are judged against them rather than today. A production landing
# zone declares none.
REPORTING_PERIOD_FILE = "reporting_period.yml"
Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class ReportingPeriod(BaseModel):
    """The months a landing zone reports on, from `first_month` to `last_month` (YYYY-MM)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    first_month: Month
    last_month: Month
    path: Path = Field(exclude=True)

    @model_validator(mode="after")
    def _ordered(self) -> ReportingPeriod:
        if self.first_month > self.last_month:
            raise ValueError(f"first_month {self.first_month} is after last_month {self.last_month}")
        return self

    def __str__(self) -> str:
        return f"{self.first_month}..{self.last_month}"

    @property
    def declared_in(self) -> str:
        return str(self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path)

    @property
    def last_day(self) -> dt.date:
        return next_month(dt.date.fromisoformat(f"{self.last_month}-01")) - dt.timedelta(days=1)


def reporting_period(landing_zone: Path | None = None) -> ReportingPeriod | None:
    """The reporting period a landing zone (default: the sources dir) declares in
    reporting_period.yml, or None: judged against today. SettingsError, naming the file and the
    problem, when the declaration is invalid."""
    path = (landing_zone or sources_dir()) / REPORTING_PERIOD_FILE
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read ({error.strerror})") from None
    return _read_reporting_period(path, stat.st_mtime_ns, stat.st_size)


class SettingsError(ValueError):
    """A settings file that cannot be used as it is; the message names the file and the problem."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in a mapping (PyYAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"`{key}` is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


# Read once per version of the file: landed_month asks for every landed file of a scan.
@functools.lru_cache(maxsize=16)
def _read_reporting_period(path: Path, mtime_ns: int, size: int) -> ReportingPeriod:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SettingsError(f"{path}: {where}{error.problem or error.context}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
        raise SettingsError(f"{path}: cannot be read as YAML text ({error})") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path}: expected first_month and last_month (YYYY-MM), found {str(document)[:80]!r}")
    try:
        return ReportingPeriod.model_validate({**document, "path": path})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'period'}: {e['msg']}" for e in error.errors(include_url=False))
        raise SettingsError(f"{path}: {problems}") from None


def partition_months() -> tuple[str, str]:
    """The first and last monthly partition (YYYY-MM): the warehouse's first month to the current
    month in Jakarta, within the declared reporting period if there is one."""
    first, last = first_month(), current_month()
    if (period := reporting_period()) is not None:
        first, last = max(first, period.first_month), min(last, period.last_month)
    return first, last


def freshness_date(landing_zone: Path | None = None) -> dt.date:
    """The day freshness is judged on: today in Jakarta, or the last day of the reporting period
    the landing zone declares when it ended earlier."""
    period = reporting_period(landing_zone)
    return min(today(), period.last_day) if period is not None else today()


ENGINES = ("duckdb", "spark")


def engine() -> str:
    """The engine the dbt project runs on (`DEI_ENGINE`): `duckdb` (default, the embedded working
    database) or `spark` (a Spark session; the raw layer a Parquet lake). Publishing is DuckDB's on both."""
    name = (os.environ.get("DEI_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise SettingsError(f"DEI_ENGINE={name!r}: expected one of {', '.join(ENGINES)}")
    return name


def lake_dir() -> Path:
    """On Spark, the lake (`DEI_LAKE_DIR`, default `warehouse/lake`): the raw layer as Parquet
    partitioned by month, Spark's managed tables and its catalog. Local disk here; in a cluster a
    filesystem every executor reads."""
    return _dir_from_env("DEI_LAKE_DIR", str(warehouse_dir() / "lake"))


def spark_master() -> str:
    """Where Spark runs (`DEI_SPARK_MASTER`): `local[2]` (default, a session in the run's process)
    or a standalone master, `spark://127.0.0.1:7077` for `make cluster-up`'s."""
    return os.environ.get("DEI_SPARK_MASTER") or "local[2]"
