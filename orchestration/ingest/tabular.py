"""The reader of tabular files: CSV, gzip CSV and Parquet, every row judged against the contract."""

from __future__ import annotations

from typing import Any

import duckdb

from orchestration.contracts import Contracts, FeedContract
from orchestration.ingest.landing import LandedFile, path_struct_sql
from orchestration.ingest.staged import Staged, about_the_file
from orchestration.rules import problems_expression
from orchestration.sql import quoted, sql_literal

# DuckDB's CSV reader reports these for lines it cannot split into the contract's fields.
CSV_ERRORS = {
    "MISSING COLUMNS": "the line has fewer fields than the contract's {n} columns (a ragged or truncated line)",
    "TOO MANY COLUMNS": "the line has more fields than the contract's {n} columns",
    "INVALID ENCODING": "the line holds bytes that are not UTF-8",
    "INVALID UNICODE": "the line holds bytes that are not UTF-8",
    "UNQUOTED VALUE": "a quoted field is not closed where it should be",
    "LINE SIZE OVER MAXIMUM": "the line is longer than any line of this feed can be",
}


def stage_tabular(
    con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], prefix_len: int, staged: Staged
) -> dict[str, str]:
    """Read CSV / gzip CSV / Parquet files as text, cast to the contract's types and judge every row.

    Fields are read as VARCHAR so a bad value never fails the read (and projection pushdown cannot
    hide a cast error); DuckDB's rejects tables catch lines that do not split into the contract's
    fields. Line numbers count records as DuckDB's reader does, with the header as line 1.

    Returns the files DuckDB could not read at all (say a corrupt gzip stream), with the reason;
    the others are staged.
    """
    landed = ", ".join(quoted(c.name) for c in feed.columns)
    typed = ", ".join(f"TRY_CAST({quoted(c.name)} AS {c.type}) AS {quoted(c.name + '__typed')}" for c in feed.columns)
    flags, problems = problems_expression(
        contracts, list(feed.columns), quoted, lambda n: quoted(n + "__typed"), lambda group: f"file_path.{quoted(group)}"
    )
    params: dict[str, Any] = {"prefix_len": prefix_len}

    def stage(reader: str, reader_params: dict[str, Any]) -> None:
        con.execute(
            f"""
            INSERT INTO load_staged
            SELECT source_file, file_row,
                   {', '.join(f'{quoted(c.name + "__typed")} AS {quoted(c.name)}' for c in feed.columns)},
                   problems,
                   CASE WHEN len(problems) > 0 THEN to_json(struct_pack({', '.join(f'{quoted(c.name)} := {quoted(c.name)}' for c in feed.columns)}))::VARCHAR END
            FROM (
                SELECT *, {problems} AS problems
                FROM (SELECT *, {', '.join(flags)}
                      FROM (SELECT *, {path_struct_sql(feed, 'source_file')} AS file_path, {typed}
                            FROM (SELECT substr(filename, $prefix_len) AS source_file, file_row, {landed} FROM ({reader}))))
            )
            """,
            {**params, **reader_params},
        )

    columns = ", ".join(f"{quoted(c.name)} {c.type}" for c in feed.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE load_staged (source_file VARCHAR, file_row BIGINT, {columns}, "
        "problems STRUCT(rule VARCHAR, column_name VARCHAR, reason VARCHAR)[], raw_values VARCHAR)"
    )
    con.execute("DROP TABLE IF EXISTS load_rejects; DROP TABLE IF EXISTS load_reject_scans")
    # One statement per file, in path order: rowids then run file by file and line by line (a
    # multi-file scan may interleave files), which gives line numbers and "first seen" their order.
    unreadable = {}
    for file in sorted(files, key=lambda f: f.source_file):
        try:
            if file.path.name.endswith(".parquet"):
                text = ", ".join(f"{quoted(c.name)}::VARCHAR AS {quoted(c.name)}" for c in feed.columns)
                stage(
                    f"SELECT filename, file_row_number + 1 AS file_row, {text} FROM read_parquet($file, filename = true, file_row_number = true)",
                    {"file": str(file.path)},
                )
            else:
                # Not in parallel: DuckDB's parallel scan drops a line longer than its 32 MiB buffer
                # without a reject. Files load one per statement, so only a single huge file reads slower.
                stage(
                    "SELECT filename, NULL::BIGINT AS file_row, * EXCLUDE (filename) FROM read_csv($file, header = true, "
                    "auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = $text_columns, filename = true, "
                    "store_rejects = true, rejects_table = 'load_rejects', rejects_scan = 'load_reject_scans', parallel = false)",
                    {"file": str(file.path), "text_columns": {c.name: "VARCHAR" for c in feed.columns}},
                )
        except duckdb.Error as error:
            if not about_the_file(error):
                raise
            unreadable[file.source_file] = f"cannot be read ({str(error).splitlines()[0]})"
    # A file that is not staged is not replaced either: the existing-keys check below must see its rows.
    staged.drop_files(con, unreadable)
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS load_rejects (scan_id UBIGINT, file_id UBIGINT, line UBIGINT, column_name VARCHAR, "
        "error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR); "
        "CREATE TEMP TABLE IF NOT EXISTS load_reject_scans (scan_id UBIGINT, file_id UBIGINT, file_path VARCHAR)"
    )

    key = ", ".join(quoted(k) for k in feed.key)
    key_text = " || ', ' || ".join(f"'{k}=' || {quoted(k)}::VARCHAR" for k in feed.key)
    con.execute(
        """
        -- Lines DuckDB's reader rejected, one per line, numbered within their file.
        CREATE OR REPLACE TEMP TABLE load_rejected AS
        SELECT source_file, line, first(error_type ORDER BY error_type) AS error_type,
               string_agg(DISTINCT error_type, '|') AS error_types, first(csv_line) AS raw_line,
               first(column_name) AS column_name, first(error_message) AS error_message,
               row_number() OVER (PARTITION BY source_file ORDER BY line) AS rank
        FROM (SELECT substr(s.file_path, $prefix_len) AS source_file, r.*
              FROM load_rejects r JOIN load_reject_scans s USING (scan_id, file_id))
        GROUP BY source_file, line
        """,
        {"prefix_len": prefix_len},
    )
    con.execute(
        f"""
        -- Clean rows whose key an earlier row has: one in a file this load does not replace (that
        -- row stays), else an earlier row of this load (first in path and line order).
        CREATE OR REPLACE TEMP TABLE load_duplicates AS
        WITH clean AS (SELECT rowid AS row_id, * FROM load_staged WHERE len(problems) = 0),
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

        -- Where the rows to quarantine (and the first rows their duplicates repeat) are in their files.
        CREATE OR REPLACE TEMP TABLE load_positions AS
        WITH wanted AS (
            SELECT rowid AS row_id, source_file, file_row FROM load_staged
            WHERE len(problems) > 0 OR rowid IN (SELECT row_id FROM load_duplicates) OR rowid IN (SELECT first_row FROM load_duplicates)
        ),
        firsts AS (SELECT source_file, min(rowid) AS first_row FROM load_staged GROUP BY source_file),
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
    n = len(feed.columns)
    reasons = " ".join(f"WHEN {sql_literal(error)} THEN {sql_literal(text.format(n=n))}" for error, text in CSV_ERRORS.items())
    con.execute(
        f"""
        INSERT INTO {staged.quarantine}
        SELECT s.source_file, p.line, p.record, s.problems[1].rule, s.problems[1].column_name,
               array_to_string(list_transform(s.problems, lambda x: x.reason), '; '), NULL, s.raw_values
        FROM load_staged s JOIN load_positions p ON p.row_id = s.rowid
        WHERE len(s.problems) > 0;

        INSERT INTO {staged.quarantine}
        SELECT s.source_file, p.line, p.record, 'unique_key', NULL,
               'duplicate key (' || d.key_text || '): ' || CASE
                   WHEN d.loaded_from IS NOT NULL THEN 'already loaded from ' || d.loaded_from
                   ELSE 'first seen in ' || f.source_file || coalesce(' line ' || f.line, ' record ' || f.record) END,
               NULL, to_json(struct_pack({', '.join(f'{quoted(c.name)} := s.{quoted(c.name)}::VARCHAR' for c in feed.columns)}))::VARCHAR
        FROM load_duplicates d
        JOIN load_staged s ON s.rowid = d.row_id
        JOIN load_positions p ON p.row_id = d.row_id
        LEFT JOIN load_positions f ON f.row_id = d.first_row;

        INSERT INTO {staged.quarantine}
        SELECT source_file, line, line - 1, 'csv_' || lower(replace(error_type, ' ', '_')), column_name,
               CASE error_type {reasons} ELSE error_type END || ' (' || error_message || ')', raw_line, NULL
        FROM load_rejected;

        -- A view, not a copy: the commit reads the staged rows once, straight into the raw table.
        DROP TABLE {staged.rows};
        CREATE TEMP VIEW {staged.rows} AS
        SELECT {', '.join(quoted(c.name) for c in feed.raw_columns)} FROM load_staged
        WHERE len(problems) = 0 AND rowid NOT IN (SELECT row_id FROM load_duplicates);

        INSERT INTO {staged.read}
        SELECT source_file, sum(n) FROM (
            SELECT source_file, count(*) AS n FROM load_staged GROUP BY ALL
            UNION ALL SELECT source_file, count(*) FROM load_rejected GROUP BY ALL
        ) GROUP BY ALL;
        """
    )
    return unreadable
