"""Loading landed feeds into the warehouse, file by file, with every row accounted for.

A load looks at a feed's landed files (all of them, or the files of some months), skips the files
whose content is unchanged since they were loaded, rejects whole files that cannot be read as the
contract says, and splits the rows of the others into loaded rows (`raw.<feed>`) and quarantined
rows (`quarantine.<feed>`: line, raw values, rule, reason). One transaction then replaces each
changed file's earlier rows and records every file in `audit.file_loads`.

The work is SQL in DuckDB; file names and values reach it only as bound parameters.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import os
import re
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb

from orchestration import progress, settings
from orchestration.contracts import Contracts, FeedContract, load_contracts
from orchestration.rules import column_problems, problems_expression, quoted, sql_literal

# Indonesian official tables group thousands with '.' and use ',' as the decimal mark.
MACROS = r"""
CREATE OR REPLACE MACRO id_number(text) AS
    CASE WHEN regexp_full_match(trim(text), '[0-9]{1,3}(\.[0-9]{3})*(,[0-9]+)?|[0-9]+(,[0-9]+)?')
         THEN replace(replace(trim(text), '.', ''), ',', '.')::DECIMAL(38, 6) END;
CREATE OR REPLACE MACRO province_key(name) AS regexp_replace(upper(name), '[^A-Z]', '', 'g');
"""

AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SEQUENCE IF NOT EXISTS audit.load_id;
CREATE TABLE IF NOT EXISTS audit.file_loads (
    load_id BIGINT DEFAULT nextval('audit.load_id') PRIMARY KEY,
    feed VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    sha256 VARCHAR,
    previous_sha256 VARCHAR,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('loaded', 'rejected', 'unchanged', 'removed')),
    error VARCHAR,
    loaded_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL,
    CHECK (rows_read = rows_loaded + rows_quarantined)
);
-- The fields the file's path names (month, platform), as JSON: what completeness is judged on.
ALTER TABLE audit.file_loads ADD COLUMN IF NOT EXISTS path_fields VARCHAR;
COMMENT ON TABLE audit.file_loads IS 'One row per landed file and load: hash, rows read = loaded + quarantined, status, error, run, path fields.';
-- The version of every file whose rows are in raw now: its latest load, unless it was removed since.
CREATE OR REPLACE VIEW audit.loaded_files AS
SELECT * FROM audit.file_loads
WHERE status IN ('loaded', 'removed')
QUALIFY row_number() OVER (PARTITION BY feed, source_file ORDER BY load_id DESC) = 1 AND status = 'loaded';
"""

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

# DuckDB's CSV reader reports these for lines it cannot split into the contract's fields.
CSV_ERRORS = {
    "MISSING COLUMNS": "the line has fewer fields than the contract's {n} columns (a ragged or truncated line)",
    "TOO MANY COLUMNS": "the line has more fields than the contract's {n} columns",
    "INVALID ENCODING": "the line holds bytes that are not UTF-8",
    "INVALID UNICODE": "the line holds bytes that are not UTF-8",
    "UNQUOTED VALUE": "a quoted field is not closed where it should be",
    "LINE SIZE OVER MAXIMUM": "the line is longer than any line of this feed can be",
}


# What a file's content can make DuckDB raise while reading it (a corrupt gzip stream, a broken
# Parquet footer). Binder and parser errors are bugs here and must not pass for a bad file.
UNREADABLE = (duckdb.IOException, duckdb.InvalidInputException)


def about_the_file(error: duckdb.Error) -> bool:
    """Whether an error DuckDB raised reading a file is about the file's content. The Parquet
    reader's Thrift and decompression code raise the bare duckdb.Error (`TProtocolException:
    Invalid data`, `dictionary offset out of range`); DuckDB's own errors (binder, parser,
    internal) all have a class of their own."""
    return isinstance(error, UNREADABLE) or type(error) is duckdb.Error


class FeedError(ValueError):
    """A feed that cannot be loaded at all; the message names the file and the problem."""


@dataclass(frozen=True)
class LandedFile:
    path: Path
    source_file: str  # relative to the sources dir
    sha256: str
    month: str | None


@dataclass(frozen=True)
class FileLoad:
    source_file: str
    status: str
    sha256: str | None = None
    previous_sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None


class Report(Protocol):
    passed: bool

    def summary(self) -> str: ...


@dataclass
class FeedLoad:
    feed: FeedContract
    files: list[FileLoad] = field(default_factory=list)
    rows_in_table: int = 0
    report: Report | None = None

    def with_status(self, status: str) -> list[FileLoad]:
        return [f for f in self.files if f.status == status]

    @property
    def changed_files(self) -> list[str]:
        """Files whose rows this load wrote: what the contract check validates."""
        return [f.source_file for f in self.with_status("loaded")]


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def relative(path: Path, sources_dir: Path) -> str:
    """A landed path's `source_file`: relative to the sources dir, as UTF-8 text even when the name's
    bytes are not (shown as \\xNN, which no feed's name pattern accepts)."""
    # realpath, not resolve(): a symlink loop is a landed path to reject, not an exception.
    rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(sources_dir))
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


# What a landed path can be besides a regular file. Such a path is never opened: reading a FIFO
# blocks until something writes to it.
NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_regular(mode: int) -> str | None:
    """What a path of this `st_mode` is when it is not a regular file (`a directory`, ...), or None."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for is_kind, kind in NOT_REGULAR if is_kind(mode)), "a special file")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes. A path that cannot be read as a file (a directory, a FIFO, no
    permission) hashes as no bytes, so it never passes for a loaded version; file_problem says why."""
    try:
        if not_regular(path.stat().st_mode) is None:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    except OSError:
        pass  # file_problem reports it
    return hashlib.sha256().hexdigest()


def file_month(feed: FeedContract, source_file: str) -> str | None:
    """The month a file's path names (sales/2020-04/..., onboarding/2020-04.csv), if the feed has one."""
    return feed.path_fields(source_file).get("month")


def landed_month(feed: FeedContract, source_file: str, sources_dir: Path | None = None) -> str | None:
    """The month a landed file is for (None for a feed without months). ValueError, naming the
    rule, when its name does not follow the feed's pattern or its month cannot hold data: not a
    month, before the warehouse's first month, after the current month, or outside the reporting
    period the landing zone (`sources_dir`, default the configured one) declares."""
    month = file_month(feed, source_file)
    if month is None:
        return None
    first, current, period = settings.first_month(), settings.current_month(), settings.reporting_period(sources_dir)
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        problem = f"month {month} is not a month (YYYY-MM, 01 to 12)"
    elif month < first:
        problem = f"month {month} is before the warehouse's first month {first} (DEI_FIRST_MONTH)"
    elif month > current:
        problem = f"month {month} is after the current month {current} (Asia/Jakarta)"
    elif period is not None and not period.first_month <= month <= period.last_month:
        problem = f"month {month} is outside the reporting period {period} declared in {period.declared_in} (widen it there to load this month)"
    else:
        return month
    raise ValueError(f"{source_file}: {problem}")


def path_struct_sql(feed: FeedContract, source_file: str) -> str:
    """SQL of the struct of the fields a file's path names (month, platform, year), for the rules
    that compare a value with them (NULL for a feed whose path names none)."""
    groups = list(re.compile(feed.path_pattern).groupindex) if feed.path_pattern else []
    if not groups:
        return "NULL"
    return f"regexp_extract({source_file}, {sql_literal(feed.path_pattern)}, [{', '.join(sql_literal(g) for g in groups)}])"


def path_fields_sql(feed: FeedContract, source_file: str) -> str:
    """SQL of the same fields as a JSON object, for the load audit (NULL for a file whose name does
    not follow the feed's pattern, or a feed whose path names none)."""
    if not feed.path_pattern:
        return "NULL"
    return f"CASE WHEN regexp_full_match({source_file}, {sql_literal(feed.path_pattern)}) THEN to_json({path_struct_sql(feed, source_file)})::VARCHAR END"


def prepare_tables(con: duckdb.DuckDBPyConnection, feed: FeedContract) -> None:
    """Create the audit, raw and quarantine tables of a feed; a raw table whose columns no longer
    match the contract is dropped with the feed's load history, so the next load reloads every file."""
    con.execute(AUDIT_DDL)
    if feed.path_pattern:  # load history from before path fields were recorded
        con.execute(
            f"UPDATE audit.file_loads SET path_fields = {path_fields_sql(feed, 'source_file')} WHERE feed = $feed AND path_fields IS NULL",
            {"feed": feed.name},
        )
    columns = ", ".join(f"{quoted(c.name)} {c.type}" for c in feed.raw_columns)
    existing = con.execute(
        "SELECT list(column_name || ' ' || data_type ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'raw' AND table_name = ?",
        [feed.name],
    ).fetchall()[0][0]
    if existing and existing != [f"{c.name} {c.type}" for c in feed.raw_columns]:
        con.execute(f"DROP TABLE {feed.raw_table}; DROP TABLE IF EXISTS quarantine.{quoted(feed.name)}")
        con.execute("DELETE FROM audit.file_loads WHERE feed = ?", [feed.name])
    con.execute(
        f"""
        CREATE SCHEMA IF NOT EXISTS raw;
        CREATE SCHEMA IF NOT EXISTS quarantine;
        CREATE TABLE IF NOT EXISTS {feed.raw_table} ({columns});
        CREATE TABLE IF NOT EXISTS quarantine.{quoted(feed.name)} (
            {QUARANTINE_COLUMNS}, sha256 VARCHAR NOT NULL, run_id VARCHAR NOT NULL, quarantined_at TIMESTAMP NOT NULL
        );
        """
    )
    if feed.format == "ministry_table":
        con.execute(
            "CREATE TABLE IF NOT EXISTS raw.population_reported_totals "
            "(year INTEGER, size_class VARCHAR, enterprises BIGINT, source_file VARCHAR, line BIGINT)"
        )


# ---------------------------------------------------------------------------------------------
# Whole-file checks: read a few bytes and the header, before DuckDB reads any row.

# The longest header line read: the probe reads no more than this of a file, whatever its first line.
HEADER_LIMIT = 64 * 1024


def _column_problem(feed: FeedContract, found: list[str]) -> str | None:
    expected = feed.column_names
    missing = [c for c in expected if c not in found]
    if missing:
        extra = [c for c in found if c not in expected]
        return (
            f"required column `{missing[0]}` missing"
            + (f"; found `{'`, `'.join(extra)}`" if extra else "")
            + f" (expected: {', '.join(expected)})"
        )
    if found != expected:
        return f"columns are {', '.join(found)}; the contract's order is {', '.join(expected)}"
    return None


def _csv_problem(feed: FeedContract, path: Path) -> str | None:
    with path.open("rb") as f:
        head = f.read(4096)
    compressed = path.name.endswith(".gz")
    if compressed and not head.startswith(b"\x1f\x8b"):
        return "not a gzip file, though its name ends in .gz"
    if not compressed:
        if head.startswith(b"PAR1"):
            return "a Parquet file, not CSV text as its name says"
        if head.startswith(b"\x1f\x8b"):
            return "gzip-compressed, not CSV text as its name says (name it .csv.gz)"
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            prefix = f.read(HEADER_LIMIT + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        return f"cannot be read as gzip ({error})"
    if not prefix.strip() and len(prefix) <= HEADER_LIMIT:
        return "the file is empty"
    if b"\x00" in prefix[:4096]:
        return "binary data, not CSV text as its name says"
    # Up to the first line end, as DuckDB's reader ends lines (\n, \r\n or a lone \r).
    first = re.split(rb"[\r\n]", prefix, maxsplit=1)[0]
    if len(first) > HEADER_LIMIT:
        return f"the header line is longer than {HEADER_LIMIT // 1024} KiB"
    try:
        header = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the header line is not UTF-8 text"
    # One line without line ends, shorter than csv's field limit: the reader cannot fail on it.
    found = next(csv.reader([header]), [])
    if len(found) == 1:
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            fields = header.strip().split(delimiter)
            if len(fields) > 1:
                return f"fields are separated by {name}; the contract's delimiter is a comma (header: {header.strip()[:120]!r})"
    return _column_problem(feed, [c.strip() for c in found])


def _parquet_problem(feed: FeedContract, path: Path, con: duckdb.DuckDBPyConnection) -> str | None:
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        return "not a Parquet file, though its name ends in .parquet"
    try:
        found = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
    except duckdb.Error as error:
        return f"cannot be read as Parquet ({str(error).splitlines()[0]})"
    return _column_problem(feed, found)


def file_problem(feed: FeedContract, landed: LandedFile, con: duckdb.DuckDBPyConnection) -> str | None:
    """Why a whole file cannot be loaded, or None."""
    try:
        info = landed.path.stat()
        if (kind := not_regular(info.st_mode)) is not None:
            return f"not a regular file ({kind})"
        if info.st_size == 0:
            return "the file is empty"
        if feed.format == "ministry_table":
            return None  # its layout is checked while its lines are read
        if landed.path.name.endswith(".parquet"):
            return _parquet_problem(feed, landed.path, con)
        return _csv_problem(feed, landed.path)
    except OSError as error:  # gone, no permission, a symlink loop
        return f"cannot be read ({error.strerror or error})"


# ---------------------------------------------------------------------------------------------
# Staging: every format fills the same temp tables, which one transaction then commits.
#   load_rows        rows to insert into raw.<feed> (the raw table's columns; a view for tabular feeds)
#   load_quarantine  quarantined records (QUARANTINE_COLUMNS)
#   load_read        rows read per file


def _create_load_tables(con: duckdb.DuckDBPyConnection, feed: FeedContract) -> None:
    columns = ", ".join(f"{quoted(c.name)} {c.type}" for c in feed.raw_columns)
    con.execute(
        f"""
        DROP VIEW IF EXISTS load_rows;
        CREATE OR REPLACE TEMP TABLE load_rows ({columns});
        CREATE OR REPLACE TEMP TABLE load_quarantine ({QUARANTINE_COLUMNS});
        CREATE OR REPLACE TEMP TABLE load_read (source_file VARCHAR, rows_read BIGINT);
        """
    )


def _stage_tabular(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], prefix_len: int) -> dict[str, str]:
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
    for file in progress.track(sorted(files, key=lambda f: f.source_file), f"{feed.name}: reading {len(files)} files"):
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
    _drop_from_load(con, unreadable)
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS load_rejects (scan_id UBIGINT, file_id UBIGINT, line UBIGINT, column_name VARCHAR, "
        "error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR); "
        "CREATE TEMP TABLE IF NOT EXISTS load_reject_scans (scan_id UBIGINT, file_id UBIGINT, file_path VARCHAR)"
    )

    key = ", ".join(quoted(k) for k in feed.key)
    key_text = " || ', ' || ".join(f"'{k}=' || {quoted(k)}::VARCHAR" for k in feed.key)
    con.execute(
        f"""
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
            WHERE e.source_file NOT IN (SELECT source_file FROM load_files)
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
        INSERT INTO load_quarantine
        SELECT s.source_file, p.line, p.record, s.problems[1].rule, s.problems[1].column_name,
               array_to_string(list_transform(s.problems, lambda x: x.reason), '; '), NULL, s.raw_values
        FROM load_staged s JOIN load_positions p ON p.row_id = s.rowid
        WHERE len(s.problems) > 0;

        INSERT INTO load_quarantine
        SELECT s.source_file, p.line, p.record, 'unique_key', NULL,
               'duplicate key (' || d.key_text || '): ' || CASE
                   WHEN d.loaded_from IS NOT NULL THEN 'already loaded from ' || d.loaded_from
                   ELSE 'first seen in ' || f.source_file || coalesce(' line ' || f.line, ' record ' || f.record) END,
               NULL, to_json(struct_pack({', '.join(f'{quoted(c.name)} := s.{quoted(c.name)}::VARCHAR' for c in feed.columns)}))::VARCHAR
        FROM load_duplicates d
        JOIN load_staged s ON s.rowid = d.row_id
        JOIN load_positions p ON p.row_id = d.row_id
        LEFT JOIN load_positions f ON f.row_id = d.first_row;

        INSERT INTO load_quarantine
        SELECT source_file, line, line - 1, 'csv_' || lower(replace(error_type, ' ', '_')), column_name,
               CASE error_type {reasons} ELSE error_type END || ' (' || error_message || ')', raw_line, NULL
        FROM load_rejected;

        -- A view, not a copy: the commit reads the staged rows once, straight into the raw table.
        DROP TABLE load_rows;
        CREATE TEMP VIEW load_rows AS
        SELECT {', '.join(quoted(c.name) for c in feed.raw_columns)} FROM load_staged
        WHERE len(problems) = 0 AND rowid NOT IN (SELECT row_id FROM load_duplicates);

        INSERT INTO load_read
        SELECT source_file, sum(n) FROM (
            SELECT source_file, count(*) AS n FROM load_staged GROUP BY ALL
            UNION ALL SELECT source_file, count(*) FROM load_rejected GROUP BY ALL
        ) GROUP BY ALL;
        """
    )
    return unreadable


def _stage_population(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile]) -> dict[str, str]:
    """Normalize the ministry's formatted tables to (year, province_code, size_class, enterprises).

    A table line is a record: its cells load together or the line is quarantined (unknown province
    name, with the closest known names; a province that breaks the contract's rules, say one not
    valid in the file's year; a cell that is not an Indonesian number; a province listed twice).
    The national total line goes to `raw.population_reported_totals`, so a check can compare it
    with the sum of the provinces. Names resolve through the provinces reference (official name
    and listed variants), compared without case, spaces or punctuation.

    Returns the files rejected as a whole, with the reason.
    """
    layout = feed.layout
    labels: dict[str, str] = layout["size_class_columns"]
    install_macros(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE province_names AS
        SELECT province_key(name) AS key, any_value(bps_code) AS bps_code, count(DISTINCT bps_code) AS codes,
               any_value(name ORDER BY length(name)) AS name
        FROM (SELECT bps_code, province_name AS name FROM raw.provinces
              UNION ALL
              SELECT bps_code, unnest(string_split(name_variants, '|')) FROM raw.provinces)
        WHERE name <> ''
        GROUP BY province_key(name)
        """
    )
    ambiguous = con.execute("SELECT name FROM province_names WHERE codes > 1 LIMIT 1").fetchall()
    if ambiguous:
        raise FeedError(f"reference/provinces.csv: the name {ambiguous[0][0]!r} is given to more than one province")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE population_lines (source_file VARCHAR, year INTEGER, line BIGINT, raw_line VARCHAR, "
        "name VARCHAR, cells STRUCT(size_class VARCHAR, value VARCHAR)[])"
    )
    rejected = {}
    for landed in files:
        year = int(feed.path_fields(landed.source_file)["year"])
        try:
            # The table is small and irregular: split it into numbered lines, then fields, in SQL.
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE population_text AS
                WITH text AS (SELECT string_split(ltrim(content, chr(65279)), chr(10)) AS lines FROM read_text($file)),
                numbered AS (SELECT rtrim(unnest(lines), chr(13)) AS text, generate_subscripts(lines, 1) AS line FROM text)
                SELECT line, text, list_transform(string_split(text, $delim), lambda x: nullif(trim(x), '')) AS f
                FROM numbered
                """,
                {"file": str(landed.path), "delim": layout["delimiter"]},
            )
        except UNREADABLE as error:
            rejected[landed.source_file] = f"cannot be read as text ({str(error).splitlines()[0]})"
            continue
        header = con.execute(
            "SELECT line, f FROM population_text WHERE f[1] = $h ORDER BY line LIMIT 1",
            {"h": layout["name_header"]},
        ).fetchall()
        if not header:
            rejected[landed.source_file] = f"no header line starting with `{layout['name_header']}`"
            continue
        header_line, columns = header[0][0], header[0][1]
        header_labels = [h for h in columns[1:] if h]
        unknown = [h for h in header_labels if h not in labels]
        missing = [label for label in labels if label not in header_labels]
        if missing:
            rejected[landed.source_file] = f"line {header_line}: required column `{missing[0]}` missing" + (
                f"; found `{'`, `'.join(unknown)}`" if unknown else ""
            )
            continue
        # Columns the layout does not name (a share, a note) are not read.
        cells = ", ".join(
            f"{{'size_class': '{labels[label]}', 'value': f[{i + 2}]}}" for i, label in enumerate(columns[1:]) if label in labels
        )
        con.execute(
            f"""
            INSERT INTO population_lines
            SELECT $source_file, $year, line, text, f[1], [{cells}]
            FROM population_text
            -- Lines without a delimiter are titles and notes, not table rows.
            WHERE line > $header_line AND len(f) > 1 AND f[1] IS NOT NULL AND NOT starts_with(f[1], $footnote)
            """,
            {"source_file": landed.source_file, "year": year, "header_line": header_line, "footnote": layout["footnote_prefix"]},
        )
    # The contract's rules on the code a name resolves to (valid in the file's year), as on any feed's
    # rows; an unknown name is offered only names whose code breaks none (provinces of that year).
    code = feed.column("province_code")
    code_flags, code_problems = problems_expression(
        contracts, [code], lambda _: "bps_code", lambda _: "bps_code", lambda group: f"file_path.{quoted(group)}"
    )
    breaks_a_rule = " OR ".join(
        f"coalesce({condition}, false)"
        for _, condition, _ in column_problems(contracts, code, "k.bps_code", "k.bps_code", lambda group: f"r.file_path.{quoted(group)}")
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE population_judged AS
        WITH resolved AS (
            SELECT l.*, upper(l.name) = upper($total) AS is_total, n.bps_code, {path_struct_sql(feed, 'l.source_file')} AS file_path,
                   list_filter(l.cells, lambda c: id_number(c.value) IS NULL OR id_number(c.value) <> trunc(id_number(c.value))) AS bad_cells
            FROM population_lines l LEFT JOIN province_names n ON n.key = province_key(l.name)
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY source_file, coalesce(bps_code, name), is_total ORDER BY line) AS occurrence,
                   {', '.join(code_flags)}
            FROM resolved
        ),
        judged AS (SELECT *, {code_problems} AS code_problems FROM ranked)
        SELECT r.*, CASE
            WHEN NOT is_total AND bps_code IS NULL THEN struct_pack(
                rule := 'references', column_name := 'province_code',
                reason := 'unknown province name ''' || name || '''; closest known: ' || (
                    SELECT array_to_string(list(k.name ORDER BY jaro_winkler_similarity(upper(k.name), upper(r.name)) DESC)[1:3], ', ')
                    FROM province_names k WHERE NOT ({breaks_a_rule})))
            WHEN NOT is_total AND len(code_problems) > 0 THEN struct_pack(
                rule := code_problems[1].rule, column_name := code_problems[1].column_name,
                reason := '''' || name || ''': ' || array_to_string(list_transform(code_problems, lambda p: p.reason), '; '))
            WHEN len(bad_cells) > 0 THEN struct_pack(
                rule := 'type', column_name := 'enterprises',
                reason := array_to_string(list_transform(bad_cells,
                    lambda c: c.size_class || ' count ' || coalesce('''' || c.value || '''', 'empty')
                         || ' is not a whole number in Indonesian format (e.g. 1.234.567)'), '; '))
            WHEN occurrence > 1 THEN struct_pack(
                rule := 'unique_key', column_name := 'province_code',
                reason := CASE WHEN is_total THEN 'a second national total line' ELSE 'province ' || bps_code || ' (' || name || ') is listed twice in the table' END)
            END AS problem
        FROM judged r
        """,
        {"total": layout["national_total_label"]},
    )
    con.execute(
        """
        INSERT INTO load_rows
        SELECT year, bps_code, unnest(cells).size_class, id_number(unnest(cells).value)::BIGINT, source_file
        FROM population_judged WHERE problem IS NULL AND NOT is_total;

        INSERT INTO load_quarantine
        SELECT source_file, line, line, problem.rule, problem.column_name, problem.reason, raw_line, NULL
        FROM population_judged WHERE problem IS NOT NULL;

        INSERT INTO load_read SELECT source_file, count(*) FROM population_lines GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE load_totals AS
        SELECT year, unnest(cells).size_class AS size_class, id_number(unnest(cells).value)::BIGINT AS enterprises, source_file, line
        FROM population_judged WHERE problem IS NULL AND is_total;
        """
    )
    return rejected


# ---------------------------------------------------------------------------------------------
# The load: which files, what happened to each, one transaction.


def landed_in_scope(feed: FeedContract, sources_dir: Path, months: set[str] | None) -> tuple[list[tuple[Path, str]], dict[str, tuple[Path, str]]]:
    """The feed's landed files (restricted to `months` if given), and the files rejected by their
    path whatever the months (a name outside the feed's pattern, a month that cannot hold data),
    with the reason."""
    files, misnamed = [], {}
    for path in feed.landed_files(sources_dir):
        rel = relative(path, sources_dir)
        try:
            month = landed_month(feed, rel, sources_dir)
        except ValueError as error:
            misnamed[rel] = (path, str(error).removeprefix(f"{rel}: "))
            continue
        if months is None or month in months:
            files.append((path, rel))
    return files, misnamed


def load_feed(
    con: duckdb.DuckDBPyConnection,
    feed: FeedContract,
    sources_dir: Path,
    run_id: str,
    months: set[str] | None = None,
    validate: Callable[[duckdb.DuckDBPyConnection, list[str]], Report] | None = None,
) -> FeedLoad:
    """Load a feed's new and changed files (of `months`, or all), quarantining bad rows.

    `validate` runs inside the transaction, on the rows just written; if its report fails, the
    transaction is rolled back and the files are recorded as rejected with the report.
    """
    contracts = load_contracts()
    prepare_tables(con, feed)
    in_scope, misnamed = landed_in_scope(feed, sources_dir, months)
    if months is None and not in_scope and not misnamed:
        raise FeedError(f"{feed.name}: no files landed (looked for {', '.join(feed.files)} under {sources_dir})")
    previous = dict(con.execute("SELECT source_file, sha256 FROM audit.loaded_files WHERE feed = ?", [feed.name]).fetchall())
    outcomes = {rel: _rejected(LandedFile(path, rel, sha256_file(path), None), previous, reason) for rel, (path, reason) in misnamed.items()}
    candidates = []
    for path, rel in in_scope:
        landed = LandedFile(path, rel, sha256_file(path), file_month(feed, rel))
        if previous.get(rel) == landed.sha256:
            outcomes[rel] = FileLoad(rel, "unchanged", landed.sha256, landed.sha256)
        elif (problem := file_problem(feed, landed, con)) is not None:
            outcomes[rel] = _rejected(landed, previous, problem)
        else:
            candidates.append(landed)
    landed_names = {rel for _, rel in in_scope} | set(misnamed)
    removed = [
        rel for rel in previous
        if rel not in landed_names and (months is None or file_month(feed, rel) in months)
    ]
    for rel in removed:
        outcomes[rel] = FileLoad(rel, "removed", None, previous[rel])

    _create_load_tables(con, feed)
    con.execute("CREATE OR REPLACE TEMP TABLE load_files (source_file VARCHAR, sha256 VARCHAR)")
    if candidates or removed:
        con.execute(
            "INSERT INTO load_files SELECT unnest($files), unnest($hashes)",
            {"files": [f.source_file for f in candidates] + removed, "hashes": [f.sha256 for f in candidates] + [None] * len(removed)},
        )
    if candidates:
        if feed.format == "ministry_table":
            unreadable = _stage_population(con, contracts, feed, candidates)
            _drop_from_load(con, unreadable)
        else:
            unreadable = _stage_tabular(con, contracts, feed, candidates, len(str(sources_dir.resolve())) + 2)
        for landed in candidates:
            if landed.source_file in unreadable:
                outcomes[landed.source_file] = _rejected(landed, previous, unreadable[landed.source_file])
        candidates = [f for f in candidates if f.source_file not in unreadable]
    return _commit(con, feed, candidates, removed, previous, outcomes, run_id, validate)


def _rejected(landed: LandedFile, previous: dict[str, str], problem: str) -> FileLoad:
    rel = landed.source_file
    kept = "; the rows of its previous version stay loaded" if rel in previous else ""
    return FileLoad(rel, "rejected", landed.sha256, previous.get(rel), error=f"{rel}: {problem}{kept}")


def _drop_from_load(con: duckdb.DuckDBPyConnection, rejected: dict[str, str]) -> None:
    """Files rejected while staging: this load neither replaces nor records rows of theirs."""
    if rejected:
        con.execute("DELETE FROM load_files WHERE source_file IN (SELECT unnest($files))", {"files": list(rejected)})


def _commit(
    con: duckdb.DuckDBPyConnection,
    feed: FeedContract,
    candidates: list[LandedFile],
    removed: list[str],
    previous: dict[str, str],
    outcomes: dict[str, FileLoad],
    run_id: str,
    validate: Callable[[duckdb.DuckDBPyConnection, list[str]], Report] | None,
) -> FeedLoad:
    counts = {
        rel: (read, read - quarantined, quarantined)
        for rel, read, quarantined in con.execute(
            """
            SELECT f.source_file, coalesce(r.rows_read, 0), (SELECT count(*) FROM load_quarantine q WHERE q.source_file = f.source_file)
            FROM load_files f LEFT JOIN load_read r USING (source_file)
            """
        ).fetchall()
    }
    for landed in candidates:
        read, loaded, quarantined = counts[landed.source_file]
        outcomes[landed.source_file] = FileLoad(landed.source_file, "loaded", landed.sha256, previous.get(landed.source_file), read, loaded, quarantined)
    load = FeedLoad(feed, sorted(outcomes.values(), key=lambda f: f.source_file))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    replaced = [f.source_file for f in candidates] + removed
    quarantine = f"quarantine.{quoted(feed.name)}"
    con.execute("BEGIN TRANSACTION")
    try:
        if replaced:
            con.execute(
                f"""
                DELETE FROM {feed.raw_table} WHERE source_file IN (SELECT source_file FROM load_files);
                DELETE FROM {quarantine} WHERE source_file IN (SELECT source_file FROM load_files);
                INSERT INTO {feed.raw_table} BY NAME SELECT * FROM load_rows;
                """
            )
            con.execute(
                f"INSERT INTO {quarantine} SELECT q.*, f.sha256, $run_id, $now FROM load_quarantine q JOIN load_files f USING (source_file)",
                {"run_id": run_id, "now": now},
            )
            if feed.format == "ministry_table":
                con.execute(
                    "DELETE FROM raw.population_reported_totals WHERE source_file IN (SELECT source_file FROM load_files); "
                    "INSERT INTO raw.population_reported_totals SELECT * FROM load_totals"
                )
            rows_written = con.execute("SELECT count(*) FROM load_rows").fetchall()[0][0]
            counted = sum(counts[f.source_file][1] for f in candidates)
            # Population lines load as one row per size class; every other feed loads row for row.
            if feed.format != "ministry_table" and rows_written != counted:
                raise AssertionError(f"{feed.name}: {rows_written} rows written but {counted} counted as loaded")
        if validate is not None and load.changed_files:
            load.report = validate(con, load.changed_files)
        if load.report is not None and not load.report.passed:
            con.execute("ROLLBACK")
            message = f"rolled back: the loaded rows failed the contract check: {load.report.summary()}"
            load.files = [FileLoad(f.source_file, "rejected", f.sha256, f.previous_sha256, error=f"{f.source_file}: {message}") if f.status == "loaded" else f for f in load.files]
            con.execute("BEGIN TRANSACTION")
        _record(con, feed, load.files, run_id, now)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # already rolled back
        raise
    load.rows_in_table = con.execute(f"SELECT count(*) FROM {feed.raw_table}").fetchall()[0][0]
    return load


def _record(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[FileLoad], run_id: str, now: dt.datetime) -> None:
    if not files:
        return
    con.execute(
        f"""
        INSERT INTO audit.file_loads (feed, source_file, sha256, previous_sha256, rows_read, rows_loaded, rows_quarantined, status, error, loaded_at, run_id, path_fields)
        SELECT *, {path_fields_sql(feed, 'source_file')} FROM (
            SELECT $feed AS feed, unnest($files) AS source_file, unnest($hashes), unnest($previous), unnest($read), unnest($loaded),
                   unnest($quarantined), unnest($status), unnest($error), $now, $run_id
        )
        """,
        {
            "feed": feed.name,
            "files": [f.source_file for f in files],
            "hashes": [f.sha256 for f in files],
            "previous": [f.previous_sha256 for f in files],
            "read": [f.rows_read for f in files],
            "loaded": [f.rows_loaded for f in files],
            "quarantined": [f.rows_quarantined for f in files],
            "status": [f.status for f in files],
            "error": [f.error for f in files],
            "now": now,
            "run_id": run_id,
        },
    )
