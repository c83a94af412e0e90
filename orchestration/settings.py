"""Where things live. Everything is configured by environment variables with repo-relative defaults,
each declared once in SETTINGS below: the getters, the environment dbt and Spark are given, the run's
fingerprint and the table in docs/operations.md (`make render`) read it."""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Setting:
    """An environment variable the project reads: its name, its default (None: none, or one the
    reader derives, as `shown_default` says), what it does, and whether it changes a run's result
    (then it is part of the run's fingerprint, and a run with another value is not skipped)."""

    name: str
    default: str | None
    description: str
    changes_result: bool = False
    shown_default: str | None = None

    def value(self) -> str | None:
        """The environment's value; the default when it is unset or empty."""
        return os.environ.get(self.name) or self.default

    def documented_default(self) -> str:
        return self.shown_default or (f"`{self.default}`" if self.default is not None else "—")


_DECLARED: list[Setting] = []


def _setting(name: str, default: str | None, description: str, changes_result: bool = False, shown_default: str | None = None) -> Setting:
    setting = Setting(name, default, description, changes_result, shown_default)
    _DECLARED.append(setting)
    return setting


SOURCES_DIR = _setting("DEI_SOURCES_DIR", "sources", "landing zone the feeds are read from")
WAREHOUSE_DIR = _setting("DEI_WAREHOUSE_DIR", "warehouse", "holds `working.duckdb` (pipeline), `history.duckdb` (releases) and `indicators.duckdb` (published)")
DAGSTER_STORAGE = _setting(
    "DEI_DAGSTER_STORAGE",
    None,
    "`postgres`: `make` writes the instance's `dagster.yaml` with `dagster-postgres.yaml`'s storage "
    "(see [Dagster's instance on PostgreSQL](scale-out.md#dagsters-instance-on-postgresql))",
    shown_default="unset (SQLite in `$DAGSTER_HOME`)",
)
DAGSTER_PG_URL = _setting(
    "DEI_DAGSTER_PG_URL",
    None,
    "the instance's PostgreSQL, `postgresql+psycopg2://user@host:port/db?passfile=/path/to/pgpass` (read by Dagster when the storage is `postgres`; `make postgres-up` prints it)",
)
POSTGRES_DIR = _setting(
    "DEI_POSTGRES_DIR",
    None,
    "the local PostgreSQL's data, log, socket and password file (`make postgres-up`, `make cluster-up`)",
    shown_default="`.cache/postgres`; as root `~postgres/dei-warehouse/<checkout>-<hash>`",
)
ENGINE = _setting(
    "DEI_ENGINE",
    "duckdb",
    "`spark`: the dbt project runs on Spark, the raw layer is a Parquet lake "
    "(see [Scale-out: Spark](scale-out.md#scale-out-spark-and-a-shared-instance); also `engine` of the `warehouse` resource)",
    changes_result=True,
)
LAKE_DIR = _setting(
    "DEI_LAKE_DIR",
    None,
    "on Spark: the raw layer's Parquet, Spark's managed tables (`warehouse/`) and its catalog (`metastore_db`) (also `lake_dir` of the `warehouse` resource)",
    changes_result=True,
    shown_default=f"`${WAREHOUSE_DIR.name}/lake`",
)
SPARK_MASTER = _setting(
    "DEI_SPARK_MASTER",
    "local[2]",
    "on Spark: a session in the run's process, or a standalone master (`spark://127.0.0.1:7077` for `make cluster-up`'s; also `spark_master` of the `warehouse` resource)",
)
SPARK_DRIVER_MEMORY = _setting("DEI_SPARK_DRIVER_MEMORY", "1g", "on Spark: the driver's memory")
SPARK_EXECUTOR_MEMORY = _setting("DEI_SPARK_EXECUTOR_MEMORY", "1g", "on Spark: each executor's memory")
# The default 200 shuffle partitions are 200 tasks per aggregate for a few thousand rows.
SPARK_SHUFFLE_PARTITIONS = _setting("DEI_SPARK_SHUFFLE_PARTITIONS", "4", "on Spark: the partitions (tasks) of each shuffle")
SUPERSET_HOME = _setting("DEI_SUPERSET_HOME", ".superset_home", "Superset's state for `make dashboard` (metadata database, secret key, admin password)")
FIRST_MONTH = _setting("DEI_FIRST_MONTH", "2019-01", "the first monthly partition; a landed file for an earlier month is rejected", changes_result=True)
SALES_MAX_AGE_DAYS = _setting("DEI_SALES_MAX_AGE_DAYS", "45", "the `sales_freshness` check warns when the newest sales month ended longer ago")
# What DuckDB may hold in memory before it spills to disk. Python with Dagster, dbt and Pandera
# loaded takes ~320 MB; with this a run over 10M sales rows peaks near 1 GB.
DUCKDB_MEMORY_LIMIT = _setting(
    "DEI_DUCKDB_MEMORY_LIMIT",
    "600MB",
    "DuckDB's memory limit for every connection of a run, dbt's included (also `duckdb_memory_limit` of the `warehouse` resource)",
    changes_result=True,
)
MAX_QUARANTINED_SHARE = _setting(
    "DEI_MAX_QUARANTINED_SHARE",
    "0.01",
    "a file with a larger share of its rows quarantined fails its raw asset's blocking check (also `max_quarantined_share` of the `warehouse` resource in the UI's launchpad)",
    changes_result=True,
)
# dbt's profile (dbt_project/profiles.yml) reads these two; a run sets them to its warehouse's files.
WORKING_DB = _setting(
    "DEI_WORKING_DB",
    None,
    "for dbt run by hand: the working database dbt's profile opens (a run sets it to its warehouse's)",
    shown_default="`warehouse/working.duckdb`",
)
HISTORY_DB = _setting(
    "DEI_HISTORY_DB",
    None,
    "for dbt run by hand: the release history dbt's profile attaches (a run sets it to its warehouse's)",
    shown_default="`warehouse/history.duckdb`",
)

# Every setting, in the order docs/operations.md lists them; those a run's result depends on, whose
# values its fingerprint hashes.
SETTINGS: tuple[Setting, ...] = tuple(_DECLARED)
RESULT_SETTINGS = tuple(s for s in SETTINGS if s.changes_result)


def _dir_from_env(setting: Setting, default: str | None = None) -> Path:
    path = Path(setting.value() or default)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def sources_dir() -> Path:
    """Landing zone the feeds are read from (SOURCES_DIR)."""
    return _dir_from_env(SOURCES_DIR)


def warehouse_dir() -> Path:
    """Folder holding the DuckDB files (WAREHOUSE_DIR)."""
    return _dir_from_env(WAREHOUSE_DIR)


def superset_home_dir() -> Path:
    """Superset's state for `make dashboard` (SUPERSET_HOME)."""
    return _dir_from_env(SUPERSET_HOME)


DEFAULT_MAX_QUARANTINED_SHARE = float(MAX_QUARANTINED_SHARE.default)


def max_quarantined_share() -> float:
    """Largest share of a file's rows that may be quarantined before its raw asset's check fails
    (MAX_QUARANTINED_SHARE)."""
    return float(MAX_QUARANTINED_SHARE.value())


DEFAULT_SALES_MAX_AGE_DAYS = int(SALES_MAX_AGE_DAYS.default)


def sales_max_age_days() -> int:
    """Days after the end of the newest sales month before the freshness check warns (SALES_MAX_AGE_DAYS)."""
    return int(SALES_MAX_AGE_DAYS.value())


# dbt's profile has the same default.
DEFAULT_DUCKDB_MEMORY_LIMIT = DUCKDB_MEMORY_LIMIT.default


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for every connection of a run, dbt's included (DUCKDB_MEMORY_LIMIT)."""
    return DUCKDB_MEMORY_LIMIT.value()


# Months are Jakarta months: a file for a month after the current one there is a landing mistake.
TIMEZONE = "Asia/Jakarta"
DEFAULT_FIRST_MONTH = FIRST_MONTH.default


def first_month() -> str:
    """The warehouse's first month, YYYY-MM (FIRST_MONTH): the first monthly partition; a landed
    file for an earlier month is rejected."""
    return FIRST_MONTH.value()


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


def lake_dir() -> Path:
    """On Spark, the lake (LAKE_DIR, default the warehouse dir's `lake`): the raw layer as Parquet
    partitioned by month, Spark's managed tables and its catalog. Local disk here; in a cluster a
    filesystem every executor reads."""
    return _dir_from_env(LAKE_DIR, str(warehouse_dir() / "lake"))


def spark_master() -> str:
    """Where Spark runs (SPARK_MASTER): `local[2]` (default, a session in the run's process) or a
    standalone master, `spark://127.0.0.1:7077` for `make cluster-up`'s."""
    return SPARK_MASTER.value()
