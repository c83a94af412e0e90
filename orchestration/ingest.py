"""Loading landed feeds into the warehouse's `raw` schema with DuckDB's own readers.

Every function takes an open DuckDB connection and does its work in SQL; file names and values
reach SQL only as bound parameters, table names only from the contracts.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.contracts import FeedContract

# Indonesian official tables group thousands with '.' and use ',' as the decimal mark.
MACROS = r"""
CREATE OR REPLACE MACRO id_number(text) AS
    CASE WHEN regexp_full_match(trim(text), '[0-9]{1,3}(\.[0-9]{3})*(,[0-9]+)?|[0-9]+(,[0-9]+)?')
         THEN replace(replace(trim(text), '.', ''), ',', '.')::DECIMAL(38, 6) END;
CREATE OR REPLACE MACRO province_key(name) AS regexp_replace(upper(name), '[^A-Z]', '', 'g');
"""


class FeedError(ValueError):
    """A landed file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    rows: int
    files: list[str]


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def relative(path: Path, sources_dir: Path) -> str:
    return path.resolve().relative_to(sources_dir.resolve()).as_posix()


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    return next(csv.reader(io.StringIO(first)), [])


def _check_columns(feed: FeedContract, rel: str, found: list[str]) -> None:
    expected = feed.column_names
    missing = [c for c in expected if c not in found]
    if missing:
        extra = [c for c in found if c not in expected]
        raise FeedError(
            f"{rel}: required column `{missing[0]}` missing"
            + (f"; found `{'`, `'.join(extra)}`" if extra else "")
            + f" (expected: {', '.join(expected)})"
        )
    if found != expected:
        raise FeedError(f"{rel}: columns are {', '.join(found)}; the contract's order is {', '.join(expected)}")


def _check_paths(feed: FeedContract, files: list[str]) -> None:
    for rel in files:
        feed.path_fields(rel)  # raises on a file name outside the feed's pattern


def load_tabular_feed(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[Path], sources_dir: Path) -> LoadResult:
    """Replace `raw.<feed>` with the typed rows of every CSV (plain or gzip) and Parquet file."""
    if not files:
        raise FeedError(f"{feed.name}: no files landed (looked for {', '.join(feed.files)} under {sources_dir})")
    rels = [relative(f, sources_dir) for f in files]
    _check_paths(feed, rels)
    csv_files = [str(f) for f in files if not f.name.endswith(".parquet")]
    parquet_files = [str(f) for f in files if f.name.endswith(".parquet")]
    for path, rel in zip(files, rels):
        if path.name.endswith(".parquet"):
            found = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        else:
            found = _csv_header(path)
        _check_columns(feed, rel, found)

    prefix = str(sources_dir.resolve()) + "/"
    typed = ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in feed.columns)
    parts, params = [], {"prefix_len": len(prefix) + 1, "columns": feed.duckdb_types()}
    if csv_files:
        parts.append(
            f"SELECT {typed}, filename FROM read_csv($csv_files, header = true, auto_detect = false, "
            "delim = ',', quote = '\"', columns = $columns, filename = true)"
        )
        params["csv_files"] = csv_files
    if parquet_files:
        parts.append(f"SELECT {typed}, filename FROM read_parquet($parquet_files, filename = true)")
        params["parquet_files"] = parquet_files
    # Absolute paths are resolved, so the relative source file is a plain suffix.
    con.execute(
        f"""
        CREATE SCHEMA IF NOT EXISTS raw;
        CREATE OR REPLACE TABLE {feed.raw_table} AS
        SELECT * EXCLUDE (filename), substr(filename, $prefix_len) AS source_file
        FROM ({' UNION ALL '.join(parts)})
        """,
        params,
    )
    rows = con.execute(f"SELECT count(*) FROM {feed.raw_table}").fetchall()[0][0]
    return LoadResult(feed.raw_table, rows, rels)


def load_population(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[Path], sources_dir: Path) -> LoadResult:
    """Normalize the ministry's formatted tables to (year, province_code, size_class, enterprises).

    The national total row of each file goes to `raw.population_reported_totals`, so a check can
    compare it with the sum of the provinces. Names resolve through the provinces reference
    (official name and every listed variant), compared without case, spaces or punctuation.
    """
    if not files:
        raise FeedError(f"{feed.name}: no files landed (looked for {', '.join(feed.files)} under {sources_dir})")
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
    con.execute("CREATE OR REPLACE TEMP TABLE population_cells (source_file VARCHAR, line BIGINT, year INTEGER, name VARCHAR, size_class VARCHAR, value VARCHAR)")
    rels = []
    width = len(labels) + 1
    for path in files:
        rel = relative(path, sources_dir)
        rels.append(rel)
        year = int(feed.path_fields(rel)["year"])
        # The table is small and irregular: split it into numbered lines, then fields, in SQL.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE population_lines AS
            WITH text AS (SELECT string_split(ltrim(content, chr(65279)), chr(10)) AS lines FROM read_text($file)),
            numbered AS (SELECT unnest(lines) AS text, generate_subscripts(lines, 1) AS line FROM text),
            fields AS (SELECT line, string_split(rtrim(text, chr(13)), $delim) AS f FROM numbered)
            SELECT line, {', '.join(f"nullif(trim(f[{i + 1}]), '') AS c{i}" for i in range(width))}
            FROM fields
            """,
            {"file": str(path), "delim": layout["delimiter"]},
        )
        header = con.execute(
            "SELECT line, * EXCLUDE (line) FROM population_lines WHERE trim(c0) = $h ORDER BY line LIMIT 1",
            {"h": layout["name_header"]},
        ).fetchall()
        if header is None:
            raise FeedError(f"{rel}: no header line starting with `{layout['name_header']}`")
        header_line, header_labels = header[0][0], [h for h in header[0][2:] if h]
        unknown = [h for h in header_labels if h not in labels]
        missing = [label for label in labels if label not in header_labels]
        if missing:
            raise FeedError(
                f"{rel}: line {header_line}: required column `{missing[0]}` missing"
                + (f"; found `{'`, `'.join(unknown)}`" if unknown else "")
            )
        selects = " UNION ALL ".join(
            f"SELECT line, trim(c0) AS name, '{labels[label]}' AS size_class, c{i + 1} AS value FROM body"
            for i, label in enumerate(header_labels)
        )
        con.execute(
            f"""
            INSERT INTO population_cells
            WITH body AS (
                SELECT * FROM population_lines
                WHERE line > $header_line AND coalesce(trim(c0), '') <> ''
                  AND NOT starts_with(trim(c0), $footnote)
            )
            SELECT $rel, line, $year, name, size_class, value FROM ({selects})
            """,
            {"header_line": header_line, "footnote": layout["footnote_prefix"], "rel": rel, "year": year},
        )

    bad_number = con.execute(
        "SELECT source_file, line, size_class, value FROM population_cells WHERE id_number(value) IS NULL ORDER BY ALL LIMIT 1"
    ).fetchall()
    if bad_number:
        rel, line, size_class, value = bad_number[0]
        raise FeedError(f"{rel}: line {line}: {size_class} count {value!r} is not a number in Indonesian format (e.g. 1.234.567)")
    unknown_name = con.execute(
        """
        SELECT c.source_file, c.line, c.name,
               (SELECT list(name ORDER BY jaro_winkler_similarity(upper(name), upper(c.name)) DESC)[1:3] FROM province_names)
        FROM population_cells c
        WHERE upper(c.name) <> upper($total) AND province_key(c.name) NOT IN (SELECT key FROM province_names)
        ORDER BY ALL LIMIT 1
        """,
        {"total": layout["national_total_label"]},
    ).fetchall()
    if unknown_name:
        rel, line, name, closest = unknown_name[0]
        raise FeedError(f"{rel}: line {line}: unknown province name {name!r}; closest known: {', '.join(closest)}")

    con.execute(
        f"""
        CREATE SCHEMA IF NOT EXISTS raw;
        CREATE OR REPLACE TABLE {feed.raw_table} AS
        SELECT c.year, n.bps_code AS province_code, c.size_class,
               id_number(c.value)::BIGINT AS enterprises, c.source_file
        FROM population_cells c JOIN province_names n ON n.key = province_key(c.name)
        ORDER BY c.year, province_code, c.size_class;
        CREATE OR REPLACE TABLE raw.population_reported_totals AS
        SELECT year, size_class, id_number(value)::BIGINT AS enterprises, source_file, line
        FROM population_cells WHERE upper(name) = upper($total)
        ORDER BY year, size_class;
        """,
        {"total": layout["national_total_label"]},
    )
    rows = con.execute(f"SELECT count(*) FROM {feed.raw_table}").fetchall()[0][0]
    return LoadResult(feed.raw_table, rows, rels)


def load_feed(con: duckdb.DuckDBPyConnection, feed: FeedContract, sources_dir: Path) -> LoadResult:
    files = feed.landed_files(sources_dir)
    if feed.format == "ministry_table":
        return load_population(con, feed, files, sources_dir)
    return load_tabular_feed(con, feed, files, sources_dir)
