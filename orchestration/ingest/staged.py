"""The temp tables a reader leaves for the commit: what every format fills, one transaction commits."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.contracts import FeedContract
from orchestration.sql import column_definitions


class FeedError(ValueError):
    """A feed that cannot be loaded at all; the message names the file and the problem."""


# A quarantined record: where it is in its file, the first rule it breaks, every reason, what it held.
QUARANTINE_COLUMNS = """
    source_file VARCHAR NOT NULL,
    line BIGINT,
    record BIGINT,
    rule VARCHAR NOT NULL,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw_line VARCHAR,
    raw_values VARCHAR
"""


@dataclass(frozen=True)
class Staged:
    """Names of the temp tables of one load.

    files       (source_file, sha256): the files whose earlier rows the load replaces, landed or
                removed (sha256 NULL); a reader deletes the files it could not read after all
    rows        the rows to insert into raw.<feed>, with the raw table's columns (a reader may
                replace the table by a view)
    quarantine  quarantined records (QUARANTINE_COLUMNS)
    read        (source_file, rows_read): rows read per file, loaded or quarantined
    totals      a ministry table's total rows, for the table its layout names (`totals_table`)
    """

    files: str = "load_files"
    rows: str = "load_rows"
    quarantine: str = "load_quarantine"
    read: str = "load_read"
    totals: str = "load_totals"

    def create(self, con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[str], hashes: list[str | None], totals: list[tuple[str, str]]) -> None:
        """Empty tables for a load of `feed` that replaces `files` (with their `hashes`); `totals`:
        the (name, type) columns of the totals table, if the feed has one."""
        columns = column_definitions(feed.raw_column_types)
        # The last load left its rows as a view (a reader replaced the table), or as the table when it staged none.
        if con.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = ?", [self.rows]).fetchone()[0]:
            con.execute(f"DROP VIEW {self.rows}")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {self.rows} ({columns});
            CREATE OR REPLACE TEMP TABLE {self.quarantine} ({QUARANTINE_COLUMNS});
            CREATE OR REPLACE TEMP TABLE {self.read} (source_file VARCHAR, rows_read BIGINT);
            CREATE OR REPLACE TEMP TABLE {self.files} (source_file VARCHAR, sha256 VARCHAR);
            """
        )
        if totals:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {self.totals} ({column_definitions(totals)})")
        if files:
            con.execute(f"INSERT INTO {self.files} SELECT unnest($files), unnest($hashes)", {"files": files, "hashes": hashes})

    def drop_files(self, con: duckdb.DuckDBPyConnection, rejected: dict[str, str]) -> None:
        """Files rejected while staging: this load neither replaces nor records rows of theirs."""
        if rejected:
            con.execute(f"DELETE FROM {self.files} WHERE source_file IN (SELECT unnest($files))", {"files": list(rejected)})


STAGED = Staged()


# What a file's content can make DuckDB raise while reading it (a corrupt gzip stream, a broken
# Parquet footer). Binder and parser errors are bugs here and must not pass for a bad file.
UNREADABLE = (duckdb.IOException, duckdb.InvalidInputException)


def about_the_file(error: duckdb.Error) -> bool:
    """Whether an error DuckDB raised reading a file is about the file's content. The Parquet
    reader's Thrift and decompression code raise the bare duckdb.Error (`TProtocolException:
    Invalid data`, `dictionary offset out of range`); DuckDB's own errors (binder, parser,
    internal) all have a class of their own."""
    return isinstance(error, UNREADABLE) or type(error) is duckdb.Error
