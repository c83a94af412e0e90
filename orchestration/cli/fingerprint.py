"""What a run's result depends on, as one hash: the landed files, the code and the settings.

`make run` records it after a successful run and, when nothing in it has changed since, answers
before importing Dagster or dbt: there is nothing to load, build or publish.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb

from orchestration import settings
from orchestration.contracts import load_contracts
from orchestration.ingest.landing import link_out, relative, sha256_file

# The code a run executes or reads: the Python package, the dbt project, the contracts, the locked
# environment. Docs-only files (README) do not change a result.
CODE_DIRS = ("orchestration", "dbt_project/models", "dbt_project/snapshots", "dbt_project/macros", "dbt_project/seeds", "dbt_project/tests")
CODE_FILES = ("dbt_project/dbt_project.yml", "dbt_project/profiles.yml", "sources/contracts.yml", "uv.lock")
CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv"}

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS audit.runs (run_id VARCHAR NOT NULL, inputs_fingerprint VARCHAR NOT NULL, finished_at TIMESTAMP NOT NULL);
COMMENT ON TABLE audit.runs IS 'Successful `make run` runs and the fingerprint of their landed files, code and settings.';
"""


def _code_files() -> list[Path]:
    root = settings.REPO_ROOT
    files = [root / f for f in CODE_FILES]
    for folder in CODE_DIRS:
        files += [p for p in (root / folder).rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()]
    return sorted(files)


def inputs_fingerprint(sources_dir: Path) -> str:
    """The hash of every landed file's name and content, the code's files and the settings (the
    current Jakarta month included: it decides which landed months are accepted)."""
    digest = hashlib.sha256()
    for feed in load_contracts().feeds.values():
        for path in feed.landed_files(sources_dir):
            digest.update(f"landed {relative(path, sources_dir)} {sha256_file(path)}\n".encode())
        for path in feed.links_out(sources_dir):  # never read: where they lead is what changes
            digest.update(f"link out {relative(path, sources_dir)} {link_out(path, sources_dir)}\n".encode())
    for path in _code_files():
        digest.update(f"code {path.relative_to(settings.REPO_ROOT).as_posix()} {sha256_file(path)}\n".encode())
    for setting in settings.RESULT_SETTINGS:  # those that change what a run loads, checks or publishes
        digest.update(f"setting {setting.name}={os.environ.get(setting.name, '')}\n".encode())
    digest.update(f"month {settings.current_month()} period {settings.reporting_period()}\n".encode())
    return digest.hexdigest()


def unchanged_run(working_db: Path, published_db: Path, fingerprint: str) -> str | None:
    """The id of the last successful run, when it had this fingerprint and the published database
    is still its publication; None otherwise (or when either database cannot be read: the run
    then finds out why)."""
    if not (working_db.exists() and published_db.exists()):
        return None
    try:
        with duckdb.connect(str(working_db), read_only=True) as con:
            last = con.execute("SELECT run_id, inputs_fingerprint FROM audit.runs ORDER BY finished_at DESC LIMIT 1").fetchall()
        with duckdb.connect(str(published_db), read_only=True) as con:
            published = con.execute("SELECT run_id FROM meta.publication").fetchall()
    except duckdb.Error:
        return None
    if last and published and last[0] == (published[0][0], fingerprint):
        return published[0][0]
    return None


def record_run(con: duckdb.DuckDBPyConnection, run_id: str, fingerprint: str) -> None:
    con.execute(RUNS_DDL)
    con.execute("INSERT INTO audit.runs VALUES (?, ?, now()::TIMESTAMP)", [run_id, fingerprint])
