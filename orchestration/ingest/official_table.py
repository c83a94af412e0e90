"""The reader of official statistical tables as their publishers release them (BPS, Bank Indonesia),
driven by the feed's `layout` in the contract.

Such a table is a grid (a CSV file, or sheets of an XLSX workbook; formats.py reads either into
GRID): title rows, a header of several rows (a class of the figures, a year row whose years span
the columns up to the next, month names beneath), one line per labelled row (a province, a
category, a city; the label in Indonesian first, perhaps in English in a last column), a national
total line, then notes. Where each part is is found from the content, not from positions: the
label column under `name_header` (else the first), the year row as the first row whose cells
besides the labels are all years, the other header rows around it in the layout's order, the notes
from the first line whose label starts as one of `notes_start`. So a longer title, a moved column
or one more note read the same.

Every line of the grid is accounted for: a title, header, blank or note line is skipped; a table
line is loaded (one row per published cell) or quarantined whole with its line (its sheet's row
for a workbook) and reason. Markers in cells (`-`) and on headers (`Jun*`, `DesR`) give the
status the layout maps them to; a column whose cells are all empty (a month not yet published)
gives no row.
"""

from __future__ import annotations

from typing import Any

import duckdb

from orchestration.contracts import ColumnContract, Contracts, FeedContract
from orchestration.ingest.formats import GRID, GRID_DDL, GridError, file_format
from orchestration.ingest.landing import LandedFile, path_struct_sql
from orchestration.ingest.ministry_table import create_row_names, install_macros, label_judgement
from orchestration.ingest.staged import Staged
from orchestration.sql import quoted, sql_literal

# Month names as Indonesian and English tables abbreviate them, longest spelling first.
MONTHS = {
    1: ["januari", "january", "jan"],
    2: ["februari", "february", "feb", "peb"],
    3: ["maret", "march", "mar"],
    4: ["april", "apr"],
    5: ["mei", "may"],
    6: ["juni", "june", "jun"],
    7: ["juli", "july", "jul"],
    8: ["agustus", "august", "agust", "agst", "agus", "ags", "agt", "agu", "aug"],
    9: ["september", "sept", "sep"],
    10: ["oktober", "october", "okt", "oct"],
    11: ["nopember", "november", "nop", "nov"],
    12: ["desember", "december", "des", "dec"],
}
MONTH_NAMES = sorted(((name, month) for month, names in MONTHS.items() for name in names), key=lambda n: -len(n[0]))
# A header's month, then its marker (one or more `*`, or a letter such as `R`), e.g. `Jun*`, `DesR`.
MONTH_HEADER = "(?i)^(" + "|".join(name for name, _ in MONTH_NAMES) + r")\.?\s*(\*+|[A-Za-z])?$"
YEAR_HEADER = r"(19|20)[0-9]{2}(\.0+)?"
NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
# Footnote marks after a label (`Semarang **`, `Jakarta 1)`): the label is read without them.
FOOTNOTE_MARK = r"\s*(\*+|[0-9]\)|\([0-9]\))$"

OFFICIAL_GRID = "official_grid"


def clean_label(text: str) -> str:
    """SQL of a label without its footnote marks."""
    return f"nullif(trim(regexp_replace({text}, {sql_literal(FOOTNOTE_MARK)}, '')), '')"


def map_sql(mapping: dict[str, str]) -> str:
    """SQL of a MAP literal (text to text); an empty one maps nothing."""
    if not mapping:
        return "MAP {'': NULL::VARCHAR}"
    return "MAP {" + ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in mapping.items()) + "}"


def month_header_sql(text: str) -> str:
    """SQL of STRUCT(month, marker) read from a month header cell (NULLs when it is not one)."""
    names = "MAP {" + ", ".join(f"{sql_literal(name)}: {month}" for name, month in MONTH_NAMES) + "}"
    parts = f"regexp_extract({text}, {sql_literal(MONTH_HEADER)}, ['name', 'marker'])"
    return f"struct_pack(month := {names}[lower({parts}.name)], marker := nullif({parts}.marker, ''))"


def _read_grids(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[LandedFile]) -> dict[str, str]:
    """OFFICIAL_GRID: every file's lines (source_file, sheet, line, cells); returns the files that
    cannot be read as a grid, with the reason."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {OFFICIAL_GRID} (source_file VARCHAR, sheet VARCHAR, line BIGINT, cells VARCHAR[])")
    rejected = {}
    for landed in files:
        con.execute(GRID_DDL)
        try:
            file_format(landed.path).grid(con, landed.path, feed.layout)
        except GridError as error:
            rejected[landed.source_file] = str(error)
            continue
        # A CSV's lines have no sheet: '' (not NULL), so that the lines join on their sheet.
        con.execute(f"INSERT INTO {OFFICIAL_GRID} SELECT $source_file, coalesce(sheet, ''), line, cells FROM {GRID}", {"source_file": landed.source_file})
    return rejected


def _locate(con: duckdb.DuckDBPyConnection, feed: FeedContract) -> None:
    """official_blocks: per file and sheet, the label columns, the header's first and last line and
    where the notes start (NULL: no notes); `problem` says why a file's table cannot be located."""
    layout = feed.layout
    rows = layout["header_rows"]
    year_row = next(i for i, row in enumerate(rows) if row["period"] == "year")
    notes = " OR ".join(f"starts_with(upper(g.cells[b.label_pos]), {sql_literal(prefix.upper())})" for prefix in layout["notes_start"]) or "false"

    def position(header: str | None) -> str:
        if header is None:
            return "NULL::BIGINT"
        upper = f"list_transform(cells, lambda c: upper(c)), {sql_literal(header.upper())}"
        return f"min(list_position({upper})) FILTER (WHERE list_contains({upper}))"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE official_cells AS
        SELECT source_file, sheet, line, generate_subscripts(cells, 1) AS pos, unnest(cells) AS cell FROM {OFFICIAL_GRID};

        CREATE OR REPLACE TEMP TABLE official_blocks AS
        WITH labels AS (
            SELECT source_file, sheet, {position(layout["name_header"])} AS label_pos, {position(layout["name_header_en"])} AS label_en_pos
            FROM {OFFICIAL_GRID} GROUP BY ALL
        ),
        years AS (
            SELECT c.source_file, c.sheet, c.line
            FROM official_cells c JOIN labels l USING (source_file, sheet)
            WHERE c.cell IS NOT NULL AND c.pos <> coalesce(l.label_pos, 1) AND c.pos IS DISTINCT FROM l.label_en_pos
            GROUP BY ALL HAVING bool_and(regexp_full_match(c.cell, {sql_literal(YEAR_HEADER)}))
        ),
        blocks AS (
            SELECT l.source_file, l.sheet, coalesce(l.label_pos, 1) AS label_pos, l.label_en_pos, l.label_pos IS NULL AND {layout["name_header"] is not None} AS no_label,
                   min(y.line) - {year_row} AS first_line, min(y.line) - {year_row} + {len(rows) - 1} AS last_line
            FROM labels l LEFT JOIN years y USING (source_file, sheet) GROUP BY ALL
        )
        SELECT b.*, (SELECT min(g.line) FROM {OFFICIAL_GRID} g
                     WHERE g.source_file = b.source_file AND g.sheet = b.sheet AND g.line > b.last_line AND ({notes})) AS notes_line,
               CASE WHEN b.no_label THEN 'no cell `' || {sql_literal(layout["name_header"] or "")} || '` above the labels'
                    WHEN b.first_line IS NULL THEN 'no header row of years (a row whose cells besides the labels are all years, e.g. 2022)'
                    WHEN b.first_line < 1 THEN 'the header''s rows above its year row are missing' END AS problem
        FROM blocks b
        """
    )


def _columns(con: duckdb.DuckDBPyConnection, feed: FeedContract) -> None:
    """official_columns: per file, sheet and column position, what its header gives each value in
    it (period, codes of the header rows with `codes`, the status of a marker), and a problem when
    a header cell cannot be read."""
    layout = feed.layout
    rows = layout["header_rows"]
    cells = ", ".join(f"max(c.cell) FILTER (WHERE c.line = b.first_line + {i}) AS h{i}" for i in range(len(rows)))
    year = next(f"h{i}" for i, row in enumerate(rows) if row["period"] == "year")
    month = next((f"h{i}" for i, row in enumerate(rows) if row["period"] == "month"), None)
    markers = layout["header_markers"]
    marker_status = map_sql(markers)
    coded = [(i, row) for i, row in enumerate(rows) if row["codes"] is not None]
    code_columns = ", ".join(
        f"MAP {{{', '.join(f'{sql_literal(label.upper())}: {sql_literal(code)}' for label, code in row['codes'].items())}}}"
        f"[upper({clean_label(f'h{i}')})] AS {quoted(row['column'])}"
        for i, row in coded
    )
    # A year cell spans the columns up to the next: a column's header names its year.
    header_text = " || ' / ' || ".join("coalesce(year::VARCHAR, '')" if f"h{i}" == year else f"coalesce(h{i}, '')" for i in range(len(rows)))
    problems = [
        "WHEN year IS NULL THEN 'no year above it'",
        *(
            [
                f"WHEN m.month IS NULL THEN 'month header ''' || coalesce({month}, '') || ''' is not a month name'",
                f"WHEN m.marker IS NOT NULL AND {marker_status}[m.marker] IS NULL "
                f"THEN 'marker ''' || m.marker || ''' on month header ''' || {month} || ''' is not one the layout maps (header_markers)'",
            ]
            if month
            else []
        ),
        *(f"WHEN {quoted(row['column'])} IS NULL THEN 'header ''' || coalesce(h{i}, '') || ''' is not one of ' || {sql_literal(', '.join(row['codes']))}" for i, row in coded),
    ]
    period = "year::VARCHAR || '-' || lpad(m.month::VARCHAR, 2, '0')" if month else "year::VARCHAR"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE official_columns AS
        WITH headers AS (
            SELECT c.source_file, c.sheet, c.pos, {cells}
            FROM official_cells c JOIN official_blocks b USING (source_file, sheet)
            WHERE b.problem IS NULL AND c.line BETWEEN b.first_line AND b.last_line
              AND c.pos <> b.label_pos AND c.pos IS DISTINCT FROM b.label_en_pos
            GROUP BY ALL
        ),
        spanned AS (
            SELECT *, TRY_CAST(TRY_CAST(last_value({year} IGNORE NULLS) OVER (PARTITION BY source_file, sheet ORDER BY pos) AS DOUBLE) AS INTEGER) AS year,
                   {month_header_sql(month) if month else "struct_pack(month := NULL::INTEGER, marker := NULL::VARCHAR)"} AS m
            FROM headers
        ),
        read AS (
            SELECT source_file, sheet, pos, {header_text} AS header, year, m.marker,
                   {period} AS period, {marker_status}[m.marker] AS marker_status{", " + code_columns if code_columns else ""},
                   CASE {" ".join(problems)} END AS problem
            FROM spanned
        )
        SELECT * FROM read
        """
    )


def _column_letters(pos: str) -> str:
    """SQL of a spreadsheet column's letters (1 -> A, 27 -> AA), for messages."""
    return f"CASE WHEN {pos} > 26 THEN chr((64 + ({pos} - 1) // 26)::INTEGER) ELSE '' END || chr((65 + ({pos} - 1) % 26)::INTEGER)"


def stage_official_table(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], staged: Staged) -> dict[str, str]:
    """Normalize official tables to the contract's rows: one per label, period and header code, with
    its value and status (HH internet access: year, province_code, urban_rural, value, status).

    A table line is a record: its cells load together or the line is quarantined (unknown label,
    with the closest known ones; a label whose code breaks the contract's rules; a cell that is
    neither a number nor a marker; an empty cell in a published column; a label listed twice).
    The total line goes to the layout's totals table. Returns the files rejected as a whole, with
    the reason (no sheet, no header, a header cell that cannot be read).
    """
    layout = feed.layout
    code = feed.column(layout["name_column"])
    create_row_names(con, contracts, feed)
    install_macros(con)
    rejected = _read_grids(con, feed, files)
    _locate(con, feed)
    _columns(con, feed)
    where = "coalesce('sheet ' || nullif(sheet, '') || ', ', '')"
    for source_file, problem in con.execute(
        f"""
        SELECT source_file, {where} || problem FROM official_blocks WHERE problem IS NOT NULL
        UNION ALL
        SELECT source_file, {where} || 'column ' || {_column_letters("pos")} || ' (' || header || '): ' || problem
        FROM official_columns c
        WHERE problem IS NOT NULL AND EXISTS (
            -- A column with a header it cannot read matters when it holds figures.
            SELECT 1 FROM official_cells x JOIN official_blocks b USING (source_file, sheet)
            WHERE x.source_file = c.source_file AND x.sheet = c.sheet AND x.pos = c.pos
              AND x.line > b.last_line AND (b.notes_line IS NULL OR x.line < b.notes_line) AND x.cell IS NOT NULL)
        ORDER BY ALL
        """
    ).fetchall():
        rejected.setdefault(source_file, problem)
    _lines(con, contracts, feed, code, rejected)
    _write(con, feed, code, staged)
    return rejected


def _lines(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, code: ColumnContract, rejected: dict[str, str]) -> None:
    """official_judged: every table line with its code, whether it is the total, its cells (one per
    value column, with value and status) and its first problem (or NULL)."""
    layout = feed.layout
    coded = [row["column"] for row in layout["header_rows"] if row["codes"] is not None]
    markers = layout["markers"]
    marker_status = map_sql(markers)
    overrides = " ".join(
        f"WHEN l.code = (SELECT code FROM row_names WHERE key = name_key({sql_literal(o['name'])})) AND "
        + " AND ".join(f"c.{quoted(column)} = {sql_literal(value)}" for column, value in o["columns"].items())
        + f" AND x.cell = {sql_literal(o['cell'])} THEN struct_pack(status := {sql_literal(o['status'])}, reason := {sql_literal(o['reason'])})"
        for o in layout["overrides"]
    )
    override = f"CASE {overrides} END" if overrides else "NULL::STRUCT(status VARCHAR, reason VARCHAR)"
    judgement = label_judgement(contracts, feed, code, "label")
    noun = sql_literal(layout["name_noun"])
    con.execute("CREATE OR REPLACE TEMP TABLE official_rejected AS SELECT unnest($files::VARCHAR[]) AS source_file", {"files": list(rejected)})
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE official_lines AS
        SELECT g.source_file, g.sheet, g.line, g.cells, {clean_label("g.cells[b.label_pos]")} AS name,
               {clean_label("g.cells[b.label_en_pos]")} AS name_en
        FROM {OFFICIAL_GRID} g JOIN official_blocks b USING (source_file, sheet)
        WHERE b.problem IS NULL AND g.source_file NOT IN (SELECT source_file FROM official_rejected)
          AND g.line > b.last_line AND (b.notes_line IS NULL OR g.line < b.notes_line)
          AND len(list_filter(g.cells, lambda c: c IS NOT NULL)) > 0;

        CREATE OR REPLACE TEMP TABLE official_resolved AS
        SELECT l.*, name_key(coalesce(l.name, '')) = name_key({sql_literal(layout["national_total_label"])}) AS is_total,
               coalesce(n.code, e.code) AS code, {path_struct_sql(feed, "l.source_file")} AS file_path
        FROM official_lines l
        LEFT JOIN row_names n ON n.key = name_key(l.name)
        LEFT JOIN row_names e ON e.key = name_key(l.name_en);

        -- Every cell of a value column, read: a marker, a declared override, a number, or empty.
        CREATE OR REPLACE TEMP TABLE official_values AS
        -- A column is published when a table line has a figure or a marker in it (a month not yet
        -- published is a column of empty cells: no rows).
        WITH published AS (
            SELECT DISTINCT source_file, sheet, pos FROM official_cells x JOIN official_lines l USING (source_file, sheet, line)
            WHERE x.cell IS NOT NULL
        ),
        cells AS (
            SELECT l.source_file, l.sheet, l.line, c.pos, c.header, c.period, c.marker_status,
                   {"".join(f"c.{quoted(col)}, " for col in coded)}x.cell, {override} AS override, p.pos IS NOT NULL AS is_published
            FROM official_resolved l
            JOIN official_columns c ON c.source_file = l.source_file AND c.sheet = l.sheet
            LEFT JOIN official_cells x ON x.source_file = l.source_file AND x.sheet = l.sheet AND x.line = l.line AND x.pos = c.pos
            LEFT JOIN published p ON p.source_file = c.source_file AND p.sheet = c.sheet AND p.pos = c.pos
            WHERE c.problem IS NULL
        )
        SELECT source_file, sheet, line, pos, header, period, {", ".join(quoted(c) for c in coded) + "," if coded else ""} cell, is_published,
               CASE WHEN override IS NOT NULL OR {marker_status}[cell] IS NOT NULL OR NOT regexp_full_match(cell, {sql_literal(NUMBER)}) THEN NULL
                    ELSE cell::DOUBLE END AS value,
               coalesce(override.status, {marker_status}[cell], marker_status, 'A') AS status,
               override.reason AS note,
               CASE WHEN cell IS NULL AND is_published THEN 'empty (a figure the publisher did not give is marked, e.g. ''-'')'
                    WHEN cell IS NOT NULL AND override IS NULL AND {marker_status}[cell] IS NULL AND NOT regexp_full_match(cell, {sql_literal(NUMBER)})
                    THEN '''' || cell || ''' is neither a number nor a marker the layout maps' END AS problem
        FROM cells
        WHERE is_published;

        CREATE OR REPLACE TEMP TABLE official_judged AS
        WITH bad_values AS (
            SELECT source_file, sheet, line, pos, header || ': ' || problem AS problem FROM official_values WHERE problem IS NOT NULL
        ),
        -- A figure in a column the header does not name (a cell beyond the table, an extra delimiter).
        stray AS (
            SELECT x.source_file, x.sheet, x.line, x.pos, 'column ' || {_column_letters("x.pos")} || ': ''' || x.cell || ''' is under no header' AS problem
            FROM official_cells x JOIN official_lines l USING (source_file, sheet, line) JOIN official_blocks b USING (source_file, sheet)
            WHERE x.cell IS NOT NULL AND x.pos <> b.label_pos AND x.pos IS DISTINCT FROM b.label_en_pos
              AND NOT EXISTS (SELECT 1 FROM official_columns c WHERE c.source_file = x.source_file AND c.sheet = x.sheet AND c.pos = x.pos)
        ),
        bad AS (
            SELECT source_file, sheet, line, list(problem ORDER BY pos) AS problems
            FROM (SELECT * FROM bad_values UNION ALL SELECT * FROM stray) GROUP BY ALL
        ),
        ranked AS (
            SELECT r.*, bad.problems AS bad_cells,
                   row_number() OVER (PARTITION BY r.source_file, r.sheet, coalesce(r.code, r.name), r.is_total ORDER BY r.line) AS occurrence,
                   {", ".join(judgement.flags)}
            FROM official_resolved r LEFT JOIN bad USING (source_file, sheet, line)
        ),
        judged AS (SELECT *, {judgement.problems} AS code_problems FROM ranked)
        SELECT r.*, CASE
            WHEN NOT is_total AND name IS NULL THEN struct_pack(rule := 'references', column_name := {sql_literal(code.name)}, reason := 'a line without a label')
            {judgement.branches}
            WHEN bad_cells IS NOT NULL THEN struct_pack(
                rule := 'type', column_name := {sql_literal(layout["value_column"])}, reason := array_to_string(bad_cells, '; '))
            WHEN occurrence > 1 THEN struct_pack(
                rule := 'unique_key', column_name := {sql_literal(code.name)},
                reason := CASE WHEN is_total THEN 'a second national total line'
                               ELSE {noun} || ' ' || code || ' (' || name || ') is listed twice in the table' END)
            END AS problem
        FROM judged r
        """
    )


def _constants(feed: FeedContract) -> dict[str, str]:
    """SQL of the contract columns a sheet's constants or the file's path give, by column."""
    layout, filled = feed.layout, set()
    sheets: dict[str, dict[str, Any]] = layout["sheets"] or {}
    constants: dict[str, str] = {}
    for column in {c for values in sheets.values() for c in values}:
        cases = " ".join(f"WHEN {sql_literal(sheet)} THEN {sql_literal(values[column])}" for sheet, values in sheets.items() if column in values)
        constants[column] = f"CASE v.sheet {cases} END"
    filled = {layout["name_column"], layout["value_column"], layout["status_column"], layout["note_column"], *constants, *(row["column"] for row in layout["header_rows"])}
    constants.update({c.name: f"j.file_path.{quoted(c.name)}" for c in feed.columns if c.name not in filled})
    return constants


def _write(con: duckdb.DuckDBPyConnection, feed: FeedContract, code: ColumnContract, staged: Staged) -> None:
    layout = feed.layout
    period = next(row["column"] for row in layout["header_rows"] if row["period"] == "year")
    coded = [row["column"] for row in layout["header_rows"] if row["codes"] is not None]
    values = {
        period: "v.period",
        **{column: f"v.{quoted(column)}" for column in coded},
        **_constants(feed),
        layout["value_column"]: "v.value",
        layout["status_column"]: "v.status",
        **({layout["note_column"]: "v.note"} if layout["note_column"] else {}),
    }
    items = ", ".join(f"({sql}::{feed.column(name).type}) AS {quoted(name)}" for name, sql in values.items())
    where = "coalesce('sheet ' || nullif(j.sheet, '') || ', ', '')"
    con.execute(
        f"""
        INSERT INTO {staged.rows} BY NAME
        SELECT {items}, j.code AS {quoted(code.name)}, j.source_file
        FROM official_judged j JOIN official_values v USING (source_file, sheet, line)
        WHERE j.problem IS NULL AND NOT j.is_total;

        INSERT INTO {staged.totals} BY NAME
        SELECT {items}, j.source_file, j.line
        FROM official_judged j JOIN official_values v USING (source_file, sheet, line)
        WHERE j.problem IS NULL AND j.is_total;

        INSERT INTO {staged.quarantine}
        SELECT source_file, line, line, problem.rule, problem.column_name, {where} || 'line ' || line || ': ' || problem.reason,
               array_to_string(list_transform(cells, lambda c: coalesce(c, '')), {sql_literal(layout["delimiter"] or ",")}), NULL
        FROM official_judged j WHERE problem IS NOT NULL;

        INSERT INTO {staged.read} SELECT source_file, count(*) FROM official_lines GROUP BY ALL;
        """
    )


def skipped_lines(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None, int, str]]:
    """The lines of the last read that are not table lines, with why (title, header, note, blank):
    with the table lines, every line of the files."""
    return con.execute(
        f"""
        SELECT g.source_file, g.sheet, g.line, CASE
            WHEN len(list_filter(g.cells, lambda c: c IS NOT NULL)) = 0 THEN 'blank'
            WHEN g.line < b.first_line THEN 'title'
            WHEN g.line <= b.last_line THEN 'header'
            ELSE 'note' END
        FROM {OFFICIAL_GRID} g JOIN official_blocks b USING (source_file, sheet)
        ANTI JOIN official_lines l ON l.source_file = g.source_file AND l.sheet = g.sheet AND l.line = g.line
        ORDER BY ALL
        """
    ).fetchall()
