"""Which releases were published: a release exists once the database BI tools read holds it.

The release step snapshots marts.indicators into the history database (a release when an
observation changed) before the run publishes. A run that stops in between (killed, a failed
check, a full disk) leaves a release nobody could read: the next run's release step rolls it back
(its snapshot rows, its row in meta.releases) and makes the release again from what it builds, at
its own time. meta.publications records every publication, written in the same step as the rename
of the published database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

SNAPSHOT = "snapshots.indicator_observations"


def publications_ddl(database: str) -> str:
    """meta.publications in `database` (the history database as attached)."""
    return f"""
    CREATE TABLE IF NOT EXISTS {database}.meta.publications (release_id INTEGER, run_id VARCHAR NOT NULL, published_at TIMESTAMPTZ NOT NULL);
    COMMENT ON TABLE {database}.meta.publications IS
        'Every publication of the database BI tools read: the run, when, and the latest release it held (NULL before the first).';
    """


@dataclass(frozen=True)
class RolledBack:
    release_id: int
    run_id: str
    made_at: dt.datetime

    def line(self) -> str:
        return (
            f"Release {self.release_id}, made by run {self.run_id} at {self.made_at:%Y-%m-%d %H:%M:%S} UTC, was never published "
            "(its run stopped before publishing): rolled back; this run makes the release again from the marts it builds."
        )


def record_publication(con: duckdb.DuckDBPyConnection, history: str, run_id: str, published_at: dt.datetime) -> None:
    """Record, in the history database attached to `con` as `history`, that `run_id` published
    every release it holds at `published_at`."""
    con.execute(publications_ddl(history))
    con.execute(
        f"INSERT INTO {history}.meta.publications SELECT (SELECT max(release_id) FROM {history}.meta.releases), ?, ?",
        [run_id, published_at],
    )


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def _in_published_file(published_db: Path) -> tuple[int | None, str, dt.datetime] | None:
    """(release, run, time) of the publication the published database holds; None without one."""
    if not published_db.exists():
        return None
    try:
        with duckdb.connect(str(published_db), read_only=True) as con:
            rows = con.execute("SELECT release_id, run_id, published_at FROM meta.publication").fetchall()
    except duckdb.Error:
        return None  # unreadable: the run republishes it
    return rows[0] if rows else None


def roll_back_unpublished(history_db: Path, published_db: Path) -> list[RolledBack]:
    """Roll back, in the history database, every release made after the last one published, with
    its snapshot rows (rows it opened deleted, rows it closed opened again), so that the next
    snapshot makes it again; the releases rolled back."""
    history_db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(history_db)) as con:
        tables = _tables(con)
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        if "meta.publications" not in tables:
            con.execute(publications_ddl(con.execute("SELECT current_database()").fetchone()[0]))
            if "meta.releases" in tables:
                # A history kept before publications were recorded: its releases were published.
                con.execute("INSERT INTO meta.publications SELECT release_id, run_id, published_at FROM meta.releases ORDER BY release_id DESC LIMIT 1")
        [(last,)] = con.execute("SELECT max(release_id) FROM meta.publications").fetchall()
        releases = "meta.releases" in tables
        # The published file holds a release its run could not record (stopped between the rename
        # and the record): it was published.
        in_file = _in_published_file(published_db)
        if releases and in_file and in_file[0] is not None and in_file[0] > (last or 0):
            if con.execute("SELECT 1 FROM meta.releases WHERE release_id = ? AND run_id = ?", in_file[:2]).fetchall():
                con.execute("INSERT INTO meta.publications VALUES (?, ?, ?)", list(in_file))
                last = in_file[0]
        unpublished = (
            [RolledBack(*row) for row in con.execute(
                "SELECT release_id, run_id, published_at FROM meta.releases WHERE release_id > ? ORDER BY release_id", [last or 0]
            ).fetchall()]
            if releases else []
        )  # fmt: skip
        # The snapshot time of the last release published; none published: every snapshot row goes.
        [(cutoff,)] = con.execute("SELECT snapshot_at FROM meta.releases WHERE release_id = ?", [last]).fetchall() if releases and last else [(None,)]
        after = "> coalesce(?::TIMESTAMP, '-infinity'::TIMESTAMP)"
        con.execute("BEGIN TRANSACTION")
        if SNAPSHOT in tables:
            con.execute(f"DELETE FROM {SNAPSHOT} WHERE dbt_valid_from {after}", [cutoff])
            con.execute(f"UPDATE {SNAPSHOT} SET dbt_valid_to = NULL WHERE dbt_valid_to {after}", [cutoff])
        if releases:
            con.execute("DELETE FROM meta.releases WHERE release_id > ?", [last or 0])
        con.execute("COMMIT")
    return unpublished
