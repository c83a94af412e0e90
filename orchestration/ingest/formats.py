"""The file formats of tabular feeds, each in one place: how a file of it is sniffed and read; and
the problems that reject a whole file before any of its rows is read.

A reader is the SQL of a relation over the files bound as `$files` (one statement for all of a
load's files of that format): `filename`, `file_row` (the record's number where the format has
one, else NULL: CSV lines are counted by the detailed read) and every contract column as text.
Formats that share a reader (CSV and gzip CSV) are read by the same statement.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.contracts import FeedContract
from orchestration.ingest.landing import LandedFile, not_regular
from orchestration.ingest.sniffing import csv_problem, parquet_problem
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
        f"SELECT filename, file_row_number + 1 AS file_row, {text} "
        "FROM read_parquet($files, filename = true, file_row_number = true, union_by_name = true)",
        {},
    )


@dataclass(frozen=True)
class FileFormat:
    name: str
    suffix: str
    sniff: Callable[[FeedContract, Path, duckdb.DuckDBPyConnection], str | None]
    # (SQL of the text relation over $files, its parameters), from the feed and the rejects table to fill.
    reader: Callable[[FeedContract, str], tuple[str, dict[str, Any]]]


PARQUET = FileFormat("Parquet", ".parquet", parquet_problem, parquet_reader)
GZIP_CSV = FileFormat("gzip CSV", ".csv.gz", lambda feed, path, _: csv_problem(feed, path, compressed=True), csv_reader)
CSV = FileFormat("CSV", ".csv", lambda feed, path, _: csv_problem(feed, path, compressed=False), csv_reader)


def file_format(path: Path) -> FileFormat:
    """A tabular feed's file's format, by its name (CSV unless it ends in .csv.gz or .parquet)."""
    return next((f for f in (PARQUET, GZIP_CSV) if path.name.endswith(f.suffix)), CSV)


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
        return file_format(landed.path).sniff(feed, landed.path, con)
    except OSError as error:  # gone, no permission, a dangling link, a symlink loop
        link = f"a symbolic link to {os.readlink(landed.path)} that " if landed.path.is_symlink() else ""
        return f"{link}cannot be read ({error.strerror or error})"
