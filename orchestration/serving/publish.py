"""Publishing the marts as the database BI tools read, atomically and in a storage format DuckDB 1.1+ opens."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.atomic import replacing, staging_path
from orchestration.serving.history import record_publication
from orchestration.serving.releases import OBSERVATION_KEY
from orchestration.settings import REPO_ROOT
from orchestration.sql import sql_literal

# DuckDB 2.0 writes storage version 69 by default, which no 1.x release reads; BI drivers bundle 1.x.
PUBLISHED_STORAGE_VERSION = "v1.1.0"
PUBLISHED_SCHEMAS = ("marts",)


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]
    source_files: int


def remove_stale_staging_files(published_db: Path) -> None:
    """Drop files left by runs that died before their rename (a kill -9, a full disk): the
    staging file and the WAL DuckDB keeps beside it until the checkpoint."""
    for pattern in (staging_path(published_db, "*").name, staging_path(published_db, "*").name + ".wal"):
        for stale in published_db.parent.glob(pattern):
            stale.unlink(missing_ok=True)


def code_version() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# "As published on": the observations as they stood at a point in time, or in a release, from
# the vintages (a table macro, so that BI tools and the duckdb CLI call it like a table).
_VINTAGE_COLUMNS = f"""{", ".join(OBSERVATION_KEY)}, period_start, frequency, obs_value, unit_measure,
       obs_status, release_from AS release_id, published_from AS published_at"""
AS_PUBLISHED_MACROS = f"""
CREATE MACRO pub.marts.indicators_as_published(as_of) AS TABLE
SELECT {_VINTAGE_COLUMNS}
FROM marts.indicator_vintages
WHERE published_from <= as_of AND (published_to IS NULL OR published_to > as_of);
CREATE MACRO pub.marts.indicators_in_release(release) AS TABLE
SELECT {_VINTAGE_COLUMNS}
FROM marts.indicator_vintages
WHERE release_from <= release AND (release_to IS NULL OR release_to > release);
"""


def publish(con: duckdb.DuckDBPyConnection, published_db: Path, run_id: str, history_db: Path) -> Publication:
    """Copy the marts (with their comments) from the working database `con` is connected to, and
    the releases from the history database, into a new file, then rename it over the published one.

    Readers connected to the old file keep their version; new connections get the new one; a run
    that fails before the rename leaves the published file untouched.
    """
    published_db.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging_files(published_db)
    published_at = dt.datetime.now(dt.UTC)
    con.execute(f"ATTACH {sql_literal(str(history_db))} AS history (READ_WRITE)")
    recording = False
    try:
        with replacing(published_db, run_id) as staging:
            publication = _write_publication(con, staging, published_db, run_id, published_at)
            # Its releases are published by the rename: recorded in a transaction committed once the
            # file is in place (the next run rolls back a release whose run stopped before).
            con.execute("BEGIN TRANSACTION")
            recording = True
            record_publication(con, "history", run_id, published_at)
        con.execute("COMMIT")
    except BaseException:
        if recording:
            with contextlib.suppress(duckdb.Error):  # already ended by a failed commit
                con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH history")
    return publication


def _write_publication(con: duckdb.DuckDBPyConnection, staging: Path, published_db: Path, run_id: str, published_at: dt.datetime) -> Publication:
    con.execute(f"ATTACH {sql_literal(str(staging))} AS pub (READ_WRITE, STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name IN ? ORDER BY ALL",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    counts = {}
    for schema, table, comment in tables:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS pub."{schema}"')
        con.execute(f'CREATE TABLE pub."{schema}"."{table}" AS SELECT * FROM "{schema}"."{table}"')
        if comment:
            con.execute(f'COMMENT ON TABLE pub."{schema}"."{table}" IS {sql_literal(comment)}')
        columns = con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ? AND comment IS NOT NULL",
            [schema, table],
        ).fetchall()
        for column, column_comment in columns:
            con.execute(f'COMMENT ON COLUMN pub."{schema}"."{table}"."{column}" IS {sql_literal(column_comment)}')
        counts[f"{schema}.{table}"] = con.execute(f'SELECT count(*) FROM pub."{schema}"."{table}"').fetchone()[0]
    con.execute("CREATE SCHEMA pub.meta")
    con.execute("CREATE TABLE pub.meta.releases AS SELECT release_id, published_at, run_id, code_version, source_files FROM history.meta.releases ORDER BY release_id")
    counts["meta.releases"] = con.execute("SELECT count(*) FROM pub.meta.releases").fetchone()[0]
    if "marts.indicator_vintages" in counts:
        con.execute(AS_PUBLISHED_MACROS)
    con.execute(
        """
        CREATE TABLE pub.meta.publication AS
        SELECT ?::VARCHAR AS run_id, ?::TIMESTAMPTZ AS published_at, ?::VARCHAR AS code_version,
               ?::VARCHAR AS storage_version, (SELECT max(release_id) FROM pub.meta.releases) AS release_id
        """,
        [run_id, published_at, code_version(), PUBLISHED_STORAGE_VERSION],
    )
    con.execute("CREATE TABLE pub.meta.published_tables (table_name VARCHAR, row_count BIGINT)")
    con.execute("INSERT INTO pub.meta.published_tables SELECT unnest(?), unnest(?)", [list(counts), list(counts.values())])
    con.execute(
        """
        CREATE TABLE pub.meta.source_files AS
        SELECT feed, source_file, sha256, rows_read, rows_loaded, rows_quarantined, loaded_at
        FROM audit.loaded_files ORDER BY feed, source_file
        """
    )
    sources = con.execute("SELECT count(*) FROM pub.meta.source_files").fetchone()[0]
    con.execute("COMMENT ON TABLE pub.meta.publication IS 'The run that published this database: run id, time, code version, the current release.'")
    con.execute(
        "COMMENT ON TABLE pub.meta.releases IS 'Every release (a run that changed an observation): id, published at, run id, code version, the landed files and their SHA-256.'"
    )
    con.execute("COMMENT ON TABLE pub.meta.source_files IS 'Every landed file whose rows went into this publication: SHA-256, rows read, loaded and quarantined.'")
    con.execute("COMMENT ON TABLE pub.meta.published_tables IS 'Row count of every published table, as published.'")
    # Everything in the main file, no WAL beside it: the rename then moves the whole version.
    con.execute("CHECKPOINT pub")
    con.execute("DETACH pub")
    return Publication(published_db, counts, sources)
