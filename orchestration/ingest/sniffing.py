"""Whole-file problems, found from a few bytes and the header before DuckDB reads any row."""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from pathlib import Path

import duckdb

from orchestration.contracts import FeedContract

# The longest header line read: the probe reads no more than this of a file, whatever its first line.
HEADER_LIMIT = 64 * 1024


def column_problem(feed: FeedContract, found: list[str]) -> str | None:
    """Why a file's columns are not the contract's (a missing column, another order), or None."""
    expected = feed.column_names
    missing = [c for c in expected if c not in found]
    if missing:
        extra = [c for c in found if c not in expected]
        return f"required column `{missing[0]}` missing" + (f"; found `{'`, `'.join(extra)}`" if extra else "") + f" (expected: {', '.join(expected)})"
    if found != expected:
        return f"columns are {', '.join(found)}; the contract's order is {', '.join(expected)}"
    return None


def csv_problem(feed: FeedContract, path: Path, compressed: bool) -> str | None:
    """Why a CSV file (gzip-`compressed` or not) cannot be read as the contract says, from its first bytes and header."""
    with path.open("rb") as f:
        head = f.read(4096)
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
    return column_problem(feed, [c.strip() for c in found])


def parquet_problem(feed: FeedContract, path: Path, con: duckdb.DuckDBPyConnection) -> str | None:
    """Why a Parquet file cannot be read as the contract says, from its magic bytes and schema."""
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        return "not a Parquet file, though its name ends in .parquet"
    try:
        found = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
    except duckdb.Error as error:
        return f"cannot be read as Parquet ({str(error).splitlines()[0]})"
    return column_problem(feed, found)
