"""The file formats of tabular feeds, each in one place: how a file of it is sniffed and read; and
the problems that reject a whole file before any of its rows is read.

A reader is the SQL of a relation over the files bound as `$files` (one statement for all of a
load's files of that format): `filename`, `file_row` (the record's number where the format has
one, else NULL: CSV lines are counted by the detailed read) and every contract column as text.
Formats that share a reader (CSV and gzip CSV) are read by the same statement.

A grid is how a formatted table (format official_table) of the format is read: every line of the
file (or of each sheet the layout names) with its number and its cells as text, into the temp
table GRID, whatever the cells hold; the layout then reads titles, headers and lines from it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook

from orchestration.contracts import FeedContract
from orchestration.ingest.landing import LandedFile, not_regular
from orchestration.ingest.sniffing import csv_problem, parquet_problem
from orchestration.ingest.staged import UNREADABLE
from orchestration.sql import quoted


def csv_reader(feed: FeedContract, rejects: str) -> tuple[str, dict[str, Any]]:
    # Not in parallel: DuckDB's parallel scan drops a line longer than its 32 MiB buffer without a
    # reject. A scan of many files still reads them side by side.
    return (
        "SELECT filename, NULL::BIGINT AS file_row, * EXCLUDE (filename) FROM read_csv($files, header = true, "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = $text_columns, filename = true, "
        f"store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scans', parallel = false)",
        {"text_columns": {c.name: "VARCHAR" for c in feed.columns}},
    )


def parquet_reader(feed: FeedContract, rejects: str) -> tuple[str, dict[str, Any]]:
    # By name: files whose column types differ are read as one relation (every column as text).
    text = ", ".join(f"{quoted(c.name)}::VARCHAR AS {quoted(c.name)}" for c in feed.columns)
    return (
        f"SELECT filename, file_row_number + 1 AS file_row, {text} FROM read_parquet($files, filename = true, file_row_number = true, union_by_name = true)",
        {},
    )


# The grid of a formatted table: one row per line of the file (per sheet of a workbook), its
# cells as trimmed text, an empty cell NULL.
GRID = "table_grid"
GRID_DDL = f"CREATE OR REPLACE TEMP TABLE {GRID} (sheet VARCHAR, line BIGINT, cells VARCHAR[])"


class GridError(ValueError):
    """A formatted table's file that cannot be read as a grid (the message says why)."""


def csv_grid(con: duckdb.DuckDBPyConnection, path: Path, layout: dict[str, Any]) -> None:
    """A delimited text table's lines, split into fields in SQL (a quoted field may hold the
    delimiter; `""` in it is a quote), a BOM and CR line ends dropped."""
    delimiter = layout.get("delimiter") or ","
    if len(delimiter) != 1 or delimiter in '"\\\n\r':
        raise GridError(f"delimiter {delimiter!r} is not one character other than a quote or a line end")
    field = '("(?:[^"]|"")*"|[^"' + _regex_class(delimiter) + "]*)" + _regex_class(delimiter, bracket=True)
    try:
        con.execute(
            f"""
            INSERT INTO {GRID}
            WITH text AS (SELECT string_split(ltrim(content, chr(65279)), chr(10)) AS lines FROM read_text($file)),
            numbered AS (SELECT rtrim(unnest(lines), chr(13)) AS text, generate_subscripts(lines, 1) AS line FROM text)
            SELECT NULL, line, list_transform(regexp_extract_all(text || $delimiter, $field, 1),
                lambda f: nullif(trim(CASE WHEN starts_with(f, '"') THEN replace(f[2:-2], '""', '"') ELSE f END), ''))
            FROM numbered
            """,
            {"file": str(path), "delimiter": delimiter, "field": field},
        )
    except UNREADABLE as error:
        raise GridError(f"cannot be read as text ({str(error).splitlines()[0]})") from None


def _regex_class(character: str, bracket: bool = False) -> str:
    escaped = "\\" + character if not character.isalnum() else character
    return f"[{escaped}]" if bracket else escaped


def _cell_text(value: Any) -> str | None:
    """A workbook cell as text: numbers as Python writes them (the shortest text that reads back as
    the same double), dates in ISO, an empty cell NULL."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return None if value is None else str(value)


def xlsx_grid(con: duckdb.DuckDBPyConnection, path: Path, layout: dict[str, Any]) -> None:
    """The sheets the layout names, each a grid read with python-calamine into DuckDB through Arrow;
    lines are numbered as the spreadsheet numbers its rows (the first is 1, empty rows included)."""
    if not layout.get("sheets"):
        raise GridError("a workbook, but the feed's layout names no sheets to read (layout.sheets)")
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        missing = [sheet for sheet in layout["sheets"] if sheet not in workbook.sheet_names]
        if missing:
            raise GridError(f"no sheet {missing[0]!r} (sheets: {', '.join(workbook.sheet_names)})")
        for sheet in layout["sheets"]:
            rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            # calamine gives the sheet as lists of Python values: only they are converted here; the
            # table is read by SQL from the Arrow table.
            grid = pa.table(
                {
                    "sheet": pa.array([sheet] * len(rows), pa.string()),
                    "line": pa.array(range(1, len(rows) + 1), pa.int64()),
                    "cells": pa.array([[_cell_text(c) for c in row] for row in rows], pa.list_(pa.string())),
                }
            )
            con.register("xlsx_sheet", grid)
            con.execute(f"INSERT INTO {GRID} SELECT * FROM xlsx_sheet")
            con.unregister("xlsx_sheet")
    except (CalamineError, OSError, ValueError) as error:
        if isinstance(error, GridError):
            raise
        raise GridError(f"cannot be read as an XLSX workbook ({error})") from None


def xlsx_problem(feed: FeedContract, path: Path, _: duckdb.DuckDBPyConnection) -> str | None:
    """An XLSX workbook holds formatted tables: a feed of flat rows cannot read one."""
    return None if feed.format == "official_table" else "an XLSX workbook: only an official_table feed reads workbooks (its layout names the sheets)"


@dataclass(frozen=True)
class FileFormat:
    name: str
    suffix: str
    sniff: Callable[[FeedContract, Path, duckdb.DuckDBPyConnection], str | None]
    # (SQL of the text relation over $files, its parameters), from the feed and the rejects table to
    # fill; None for a format only formatted tables come in.
    reader: Callable[[FeedContract, str], tuple[str, dict[str, Any]]] | None
    # Fills GRID with a formatted table's lines; None for a format that holds only flat rows.
    grid: Callable[[duckdb.DuckDBPyConnection, Path, dict[str, Any]], None] | None = None


PARQUET = FileFormat("Parquet", ".parquet", parquet_problem, parquet_reader)
GZIP_CSV = FileFormat("gzip CSV", ".csv.gz", lambda feed, path, _: csv_problem(feed, path, compressed=True), csv_reader)
CSV = FileFormat("CSV", ".csv", lambda feed, path, _: csv_problem(feed, path, compressed=False), csv_reader, csv_grid)
XLSX = FileFormat("XLSX", ".xlsx", xlsx_problem, None, xlsx_grid)


def file_format(path: Path) -> FileFormat:
    """A feed's file's format, by its name (CSV unless it ends in .csv.gz, .parquet or .xlsx)."""
    return next((f for f in (PARQUET, GZIP_CSV, XLSX) if path.name.endswith(f.suffix)), CSV)


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
        found = file_format(landed.path)
        if feed.format == "official_table":
            return None if found.grid is not None else f"a {found.name} file holds flat rows, not a formatted table"
        return found.sniff(feed, landed.path, con)
    except OSError as error:  # gone, no permission, a dangling link, a symlink loop
        link = f"a symbolic link to {os.readlink(landed.path)} that " if landed.path.is_symlink() else ""
        return f"{link}cannot be read ({error.strerror or error})"
