"""Where things live. Everything is configured by environment variables with repo-relative defaults."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
CONTRACTS_FILE = REPO_ROOT / "sources" / "contracts.yml"

WORKING_DB_NAME = "working.duckdb"
PUBLISHED_DB_NAME = "indicators.duckdb"


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


def current_month() -> str:
    """This month in Jakarta, YYYY-MM: the last month a landed file may be for."""
    return dt.datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m")
