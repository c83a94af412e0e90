"""The reader of tabular files (CSV, gzip CSV, Parquet): every row judged against the contract.

Two passes. The scan reads all of a load's files of a format in one statement, casts every field
to the contract's type and evaluates every rule as one flag per row: the rows of a file with no
broken rule, no line DuckDB's reader rejected and no duplicate key are loaded as scanned, which is
the whole cost of a clean load. Only the files that have such rows are read again, one by one, to
say which line breaks which rule and why, and where the row a duplicate repeats was first seen.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

import duckdb

from orchestration import progress
from orchestration.contracts import Contracts, FeedContract
from orchestration.contracts.rules import broken_expression, cast_sql, problems_expression
from orchestration.ingest.formats import CSV, GZIP_CSV, file_format
from orchestration.ingest.landing import LandedFile, path_struct_sql
from orchestration.ingest.records import mixed_line_end
from orchestration.ingest.staged import Staged, about_the_file
from orchestration.sql import column_definitions, quoted, sql_literal

# DuckDB's CSV reader reports these for lines it cannot split into the contract's fields.
CSV_ERRORS = {
    "MISSING COLUMNS": "the line has fewer fields than the contract's {n} columns (a ragged or truncated line)",
    "TOO MANY COLUMNS": "the line has more fields than the contract's {n} columns",
    "INVALID ENCODING": "the line holds bytes that are not UTF-8",
    "INVALID UNICODE": "the line holds bytes that are not UTF-8",
    "UNQUOTED VALUE": "a quoted field is not closed where it should be",
    "LINE SIZE OVER MAXIMUM": "the line is longer than any line of this feed can be",
}

# The scan's tables: its rows (typed, with a flag), the lines its reader rejected, the files to explain.
SCAN, SCAN_REJECTS, EXPLAIN = "load_scan", "scan_rejects", "load_explain"
# The detailed read's tables.
DETAILED, DETAILED_REJECTS = "load_staged", "load_rejects"


def stage_tabular(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], staged: Staged) -> dict[str, str]:
    """Read CSV / gzip CSV / Parquet files as text, cast to the contract's types and judge every row.

    Fields are read as VARCHAR so a bad value never fails the read (and projection pushdown cannot
    hide a cast error); DuckDB's rejects tables catch lines that do not split into the contract's
    fields. Line numbers count records as DuckDB's reader does, with the header as line 1.

    Returns the files DuckDB could not read at all (say a corrupt gzip stream), with the reason;
    the others are staged.
    """
    files = sorted(files, key=lambda f: f.source_file)
    unreadable = _scan(con, contracts, feed, files)
    # A file that is not staged is not replaced either: the existing-keys checks must see its rows.
    staged.drop_files(con, unreadable)
    to_explain = _files_to_explain(con, feed, staged)
    explained = [f for f in files if f.source_file in to_explain and f.source_file not in unreadable]
    more = _explain(con, contracts, feed, explained, staged)
    raw_columns = ", ".join(quoted(c.name) for c in feed.raw_columns)
    con.execute(
        f"""
        -- A view, not a copy: the commit reads the staged rows once, straight into the raw table.
        DROP TABLE {staged.rows};
        CREATE TEMP VIEW {staged.rows} AS
        SELECT {raw_columns} FROM {SCAN} WHERE source_file NOT IN (SELECT source_file FROM {EXPLAIN})
        UNION ALL
        SELECT {raw_columns} FROM {DETAILED} WHERE len(problems) = 0 AND rowid NOT IN (SELECT row_id FROM load_duplicates);

        INSERT INTO {staged.read}
        SELECT source_file, count(*) FROM {SCAN} WHERE source_file NOT IN (SELECT source_file FROM {EXPLAIN}) GROUP BY ALL;
        """
    )
    return unreadable | more


def _typed(feed: FeedContract) -> str:
    return ", ".join(f"{cast_sql(c.type, quoted(c.name))} AS {quoted(c.name + '__typed')}" for c in feed.columns)


def _typed_values(feed: FeedContract) -> str:
    """The typed values under the columns' own names, as loaded."""
    return ", ".join(f"{quoted(c.name + '__typed')} AS {quoted(c.name)}" for c in feed.columns)


def _scan(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile]) -> dict[str, str]:
    """SCAN: every row of `files`, typed, with `broken` when it breaks a rule. One statement per
    reader; when DuckDB cannot read one of its files at all, its files are read one by one to know
    which (returned with the reason)."""
    columns = ", ".join(f"{quoted(c.name)} {c.type}" for c in feed.columns)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {SCAN} (source_file VARCHAR, {columns}, broken BOOLEAN);
        DROP TABLE IF EXISTS {SCAN_REJECTS}; DROP TABLE IF EXISTS {SCAN_REJECTS}_scans;
        -- The file's name and the fields its path names, joined to its rows (not computed per row).
        CREATE OR REPLACE TEMP TABLE scan_paths AS
        SELECT filename, source_file, {path_struct_sql(feed, "source_file")} AS file_path
        FROM (SELECT unnest($paths) AS filename, unnest($files) AS source_file);
        """,
        {"paths": [str(f.path) for f in files], "files": [f.source_file for f in files]},
    )
    broken = broken_expression(contracts, list(feed.columns), quoted, lambda n: quoted(n + "__typed"), lambda group: f"file_path.{quoted(group)}")
    landed = ", ".join(quoted(c.name) for c in feed.columns)

    def scan(reader: str, params: dict[str, Any], paths: list[str]) -> None:
        con.execute(
            f"""
            INSERT INTO {SCAN}
            SELECT source_file, {_typed_values(feed)}, {broken}
            FROM (SELECT p.source_file, p.file_path, {landed}, {_typed(feed)}
                  FROM (SELECT filename, {landed} FROM ({reader})) JOIN scan_paths p USING (filename))
            """,
            {**params, "files": paths},
        )

    unreadable = {}
    by_reader = [(reader, list(group)) for reader, group in groupby(sorted(files, key=lambda f: file_format(f.path).reader.__name__), key=lambda f: file_format(f.path).reader)]
    for reader, group in progress.track(by_reader, f"{feed.name}: scanning {len(files)} files"):
        sql, params = reader(feed, SCAN_REJECTS)
        try:
            scan(sql, params, [str(f.path) for f in group])
        except duckdb.Error:
            for file in group:
                try:
                    scan(sql, params, [str(file.path)])
                except duckdb.Error as error:
                    if not about_the_file(error):
                        raise
                    unreadable[file.source_file] = _unreadable(file, error)
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {SCAN_REJECTS} (scan_id UBIGINT, file_id UBIGINT); "
        f"CREATE TEMP TABLE IF NOT EXISTS {SCAN_REJECTS}_scans (scan_id UBIGINT, file_id UBIGINT, file_path VARCHAR)"
    )
    return unreadable


def _unreadable(file: LandedFile, error: duckdb.Error) -> str:
    """Why DuckDB could not read a file at all: its own message, or for a CSV whose line ends
    change kind (the reader's "state machine reached an invalid state"), the line where they do."""
    message = str(error).splitlines()[0]
    if "state machine reached an invalid state" in message and file_format(file.path) in (CSV, GZIP_CSV):
        if (reason := mixed_line_end(file.path, file_format(file.path) is GZIP_CSV)) is not None:
            return reason
    return f"cannot be read ({message})"


def _files_to_explain(con: duckdb.DuckDBPyConnection, feed: FeedContract, staged: Staged) -> set[str]:
    """EXPLAIN: the files with a row that breaks a rule, a line the reader rejected, or a clean row
    whose key another clean row of the load has or a row of a file the load does not replace."""
    key = ", ".join(quoted(k) for k in feed.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EXPLAIN} AS
        SELECT DISTINCT source_file FROM {SCAN} WHERE broken
        UNION
        SELECT p.source_file FROM {SCAN_REJECTS} r JOIN {SCAN_REJECTS}_scans s USING (scan_id, file_id) JOIN scan_paths p ON p.filename = s.file_path
        UNION
        -- Keys compared by their hash: a collision only sends a clean file to the detailed read.
        SELECT source_file FROM {SCAN}
        WHERE NOT broken AND hash({key}) IN (SELECT hash({key}) FROM {SCAN} WHERE NOT broken GROUP BY ALL HAVING count(*) > 1)
        UNION
        SELECT DISTINCT s.source_file FROM {SCAN} s JOIN {feed.raw_table} e USING ({key})
        WHERE NOT s.broken AND e.source_file NOT IN (SELECT source_file FROM {staged.files})
        """
    )
    return {r[0] for r in con.execute(f"SELECT source_file FROM {EXPLAIN}").fetchall()}


def _explain(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], staged: Staged) -> dict[str, str]:
    """Read `files` again one by one (DETAILED), to quarantine what breaks a rule with its line and
    reason; returns the files DuckDB could not read at all this time, with the reason."""
    unreadable = _detailed(con, contracts, feed, files)
    staged.drop_files(con, unreadable)
    _load_rejected(con)
    _load_duplicates(con, feed, staged)
    _load_positions(con)
    _stage_quarantine(con, feed, staged)
    return unreadable


def _detailed(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile]) -> dict[str, str]:
    """DETAILED: every row of `files`, read one by one, typed, with the rules it breaks and (when it
    breaks one) its values as landed; DETAILED_REJECTS: the lines the reader rejected. Returns the
    files DuckDB could not read at all this time, with the reason."""
    landed = ", ".join(quoted(c.name) for c in feed.columns)
    flags, problems = problems_expression(contracts, list(feed.columns), quoted, lambda n: quoted(n + "__typed"), lambda group: f"file_path.{quoted(group)}")

    def stage(reader: str, reader_params: dict[str, Any], file: LandedFile) -> None:
        con.execute(
            f"""
            INSERT INTO {DETAILED}
            SELECT source_file, file_row,
                   {_typed_values(feed)},
                   problems,
                   CASE WHEN len(problems) > 0 THEN to_json(struct_pack({", ".join(f"{quoted(c.name)} := {quoted(c.name)}" for c in feed.columns)}))::VARCHAR END
            FROM (
                SELECT *, {problems} AS problems
                FROM (SELECT *, {", ".join(flags)}
                      FROM (SELECT $source_file AS source_file, {path_struct_sql(feed, "$source_file")} AS file_path, file_row, {landed}, {_typed(feed)}
                            FROM ({reader})))
            )
            """,
            {**reader_params, "files": [str(file.path)], "source_file": file.source_file},
        )

    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DETAILED} (source_file VARCHAR, file_row BIGINT, {column_definitions(feed.duckdb_types().items())}, "
        "problems STRUCT(rule VARCHAR, column_name VARCHAR, reason VARCHAR)[], raw_values VARCHAR)"
    )
    con.execute(f"DROP TABLE IF EXISTS {DETAILED_REJECTS}; DROP TABLE IF EXISTS {DETAILED_REJECTS}_scans")
    # One statement per file, in path order: rowids then run file by file and line by line (a
    # multi-file scan may interleave files), which gives line numbers and "first seen" their order.
    unreadable = {}
    for file in progress.track(files, f"{feed.name}: reading {len(files)} files again for line numbers and reasons"):
        try:
            stage(*file_format(file.path).reader(feed, DETAILED_REJECTS), file)
        except duckdb.Error as error:
            if not about_the_file(error):
                raise
            unreadable[file.source_file] = _unreadable(file, error)
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {DETAILED_REJECTS} (scan_id UBIGINT, file_id UBIGINT, line UBIGINT, column_name VARCHAR, "
        "error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR); "
        f"CREATE TEMP TABLE IF NOT EXISTS {DETAILED_REJECTS}_scans (scan_id UBIGINT, file_id UBIGINT, file_path VARCHAR)"
    )
    return unreadable


def _load_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """load_rejected: the lines the reader rejected, one per line, numbered within their file."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE load_rejected AS
        SELECT source_file, line, first(error_type ORDER BY error_type) AS error_type,
               string_agg(DISTINCT error_type, '|') AS error_types, first(csv_line) AS raw_line,
               first(column_name) AS column_name, first(error_message) AS error_message,
               row_number() OVER (PARTITION BY source_file ORDER BY line) AS rank
        FROM (SELECT p.source_file, r.*
              FROM {DETAILED_REJECTS} r JOIN {DETAILED_REJECTS}_scans s USING (scan_id, file_id) JOIN scan_paths p ON p.filename = s.file_path)
        GROUP BY source_file, line
        """
    )


def _load_duplicates(con: duckdb.DuckDBPyConnection, feed: FeedContract, staged: Staged) -> None:
    """load_duplicates: the clean rows whose key an earlier row has: one in a file this load does not
    replace (that row stays), else an earlier row of this load (first in path and line order)."""
    key = ", ".join(quoted(k) for k in feed.key)
    key_text = " || ', ' || ".join(f"'{k}=' || {quoted(k)}::VARCHAR" for k in feed.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE load_duplicates AS
        WITH clean AS (SELECT rowid AS row_id, * FROM {DETAILED} WHERE len(problems) = 0),
        existing AS (
            SELECT c.row_id, any_value(e.source_file) AS loaded_from
            FROM clean c JOIN {feed.raw_table} e USING ({key})
            WHERE e.source_file NOT IN (SELECT source_file FROM {staged.files})
            GROUP BY c.row_id
        ),
        fresh AS (SELECT * FROM clean WHERE row_id NOT IN (SELECT row_id FROM existing)),
        firsts AS (SELECT {key}, min(row_id) AS first_row FROM fresh GROUP BY ALL HAVING count(*) > 1)
        SELECT c.row_id, NULL::BIGINT AS first_row, x.loaded_from, {key_text} AS key_text
        FROM clean c JOIN existing x USING (row_id)
        UNION ALL
        SELECT c.row_id, f.first_row, NULL, {key_text}
        FROM fresh c JOIN firsts f USING ({key}) WHERE c.row_id <> f.first_row;
        """
    )


def _load_positions(con: duckdb.DuckDBPyConnection) -> None:
    """load_positions: where the rows to quarantine, and the first rows their duplicates repeat, are in their files."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE load_positions AS
        WITH wanted AS (
            SELECT rowid AS row_id, source_file, file_row FROM {DETAILED}
            WHERE len(problems) > 0 OR rowid IN (SELECT row_id FROM load_duplicates) OR rowid IN (SELECT first_row FROM load_duplicates)
        ),
        firsts AS (SELECT source_file, min(rowid) AS first_row FROM {DETAILED} GROUP BY source_file),
        ordinals AS (SELECT w.*, w.row_id - f.first_row AS ordinal FROM wanted w JOIN firsts f USING (source_file))
        SELECT row_id, source_file, line, coalesce(file_row, line - 1) AS record
        FROM (
            -- The k-th row read (from 0) is on line k + 2 (after the header) plus the rejected
            -- lines before it: those with at most k good lines ahead of them.
            SELECT row_id, source_file, file_row,
                   CASE WHEN file_row IS NULL THEN ordinal + 2 + (
                       SELECT count(*) FROM load_rejected r
                       WHERE r.source_file = o.source_file AND r.line - 1 - r.rank <= o.ordinal) END AS line
            FROM ordinals o
        );
        """
    )


def _stage_quarantine(con: duckdb.DuckDBPyConnection, feed: FeedContract, staged: Staged) -> None:
    """The quarantined records (rows that break a rule, duplicates, rejected lines) and the rows read per file, staged for the commit."""
    n = len(feed.columns)
    reasons = " ".join(f"WHEN {sql_literal(error)} THEN {sql_literal(text.format(n=n))}" for error, text in CSV_ERRORS.items())
    con.execute(
        f"""
        INSERT INTO {staged.quarantine}
        SELECT s.source_file, p.line, p.record, s.problems[1].rule, s.problems[1].column_name,
               array_to_string(list_transform(s.problems, lambda x: x.reason), '; '), NULL, s.raw_values
        FROM {DETAILED} s JOIN load_positions p ON p.row_id = s.rowid
        WHERE len(s.problems) > 0;

        INSERT INTO {staged.quarantine}
        SELECT s.source_file, p.line, p.record, 'unique_key', NULL,
               'duplicate key (' || d.key_text || '): ' || CASE
                   WHEN d.loaded_from IS NOT NULL THEN 'already loaded from ' || d.loaded_from
                   ELSE 'first seen in ' || f.source_file || coalesce(' line ' || f.line, ' record ' || f.record) END,
               NULL, to_json(struct_pack({", ".join(f"{quoted(c.name)} := s.{quoted(c.name)}::VARCHAR" for c in feed.columns)}))::VARCHAR
        FROM load_duplicates d
        JOIN {DETAILED} s ON s.rowid = d.row_id
        JOIN load_positions p ON p.row_id = d.row_id
        LEFT JOIN load_positions f ON f.row_id = d.first_row;

        INSERT INTO {staged.quarantine}
        SELECT source_file, line, line - 1, 'csv_' || lower(replace(error_type, ' ', '_')), column_name,
               CASE error_type {reasons} ELSE error_type END || ' (' || error_message || ')', raw_line, NULL
        FROM load_rejected;

        INSERT INTO {staged.read}
        SELECT source_file, sum(n) FROM (
            SELECT source_file, count(*) AS n FROM {DETAILED} GROUP BY ALL
            UNION ALL SELECT source_file, count(*) FROM load_rejected GROUP BY ALL
        ) GROUP BY ALL;
        """
    )
