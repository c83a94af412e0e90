"""The reader of the ministry's formatted tables, driven by the feed's `layout` in the contract.

Such a table has title lines, a header line, one line per named row (a province), a total line
and a source footnote; its fields are separated by the layout's delimiter and its numbers are in
Indonesian format. The layout says which contract column each part fills (sources/contracts.yml).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.contracts import ColumnContract, Contracts, FeedContract
from orchestration.contracts.rules import RULES, column_problems, number_scale, problems_expression
from orchestration.ingest.landing import LandedFile, path_struct_sql
from orchestration.ingest.staged import UNREADABLE, FeedError, Staged
from orchestration.sql import quoted, sql_literal

# Indonesian official tables group thousands with '.' and use ',' as the decimal mark.
MACROS = r"""
CREATE OR REPLACE MACRO id_number(text) AS
    CASE WHEN regexp_full_match(trim(text), '[0-9]{1,3}(\.[0-9]{3})*(,[0-9]+)?|[0-9]+(,[0-9]+)?')
         THEN replace(replace(trim(text), '.', ''), ',', '.')::DECIMAL(38, 6) END;
CREATE OR REPLACE MACRO name_key(name) AS regexp_replace(upper(name), '[^A-Z]', '', 'g');
"""


def _value_columns(feed: FeedContract) -> list[ColumnContract]:
    """The contract columns a table's number cells fill."""
    unpivot = feed.layout.get("unpivot")
    return [feed.column(unpivot["value_column"])] if unpivot else [feed.column(name) for name in feed.layout["value_columns"].values()]


def _cell_problems(contracts: Contracts, feed: FeedContract) -> str:
    """SQL of the list of {rule, column_name, reason} of the cells of a line (`l.cells`) whose number
    breaks a rule of the column it fills (min, max, plausible): the rules that judge values, as on
    any feed's rows. A cell that is not a number is the `type` problem, reported before."""
    judges_text = {rule.name for rule in RULES if rule.judges_text}
    unpivot = feed.layout.get("unpivot")
    branches = []
    for column in _value_columns(feed):
        scale = number_scale(column.type)
        typed = f"TRY_CAST(id_number(c.value) AS DECIMAL(38, {6 if scale is None else scale}))"
        for rule, condition, reason in column_problems(contracts, column, "c.value", typed, lambda group: "NULL"):
            if rule in judges_text:
                continue
            shown = f"c.name || ': ' || {reason}" if unpivot else reason
            branches.append(
                f"WHEN c.filled = {sql_literal(column.name)} AND {typed} IS NOT NULL AND coalesce({condition}, false) "
                f"THEN {{'rule': {sql_literal(rule)}, 'column_name': {sql_literal(column.name)}, 'reason': {shown}}}"
            )
    if not branches:
        return "[]"
    return f"list_filter(list_transform(l.cells, lambda c: CASE {' '.join(branches)} END), lambda p: p IS NOT NULL)"


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def totals_columns(feed: FeedContract) -> list[tuple[str, str]]:
    """(name, type) of the totals table: the contract's columns but the row name, then where the total line is."""
    return [(c.name, c.type) for c in feed.columns if c.name != feed.layout["name_column"]] + [("source_file", "VARCHAR"), ("line", "BIGINT")]


def totals_table(feed: FeedContract) -> str:
    return f"raw.{quoted(feed.layout['totals_table'])}"


def _values(feed: FeedContract, cells: str) -> list[str]:
    """SELECT items of the contract columns the value cells fill (one row per cell when unpivoted)."""
    layout = feed.layout
    if (unpivot := layout.get("unpivot")) is not None:
        value = feed.column(unpivot["value_column"])
        return [
            f"unnest({cells}).name AS {quoted(unpivot['category_column'])}",
            f"id_number(unnest({cells}).value)::{value.type} AS {quoted(value.name)}",
        ]
    return [
        f"id_number(list_filter({cells}, lambda c: c.name = {sql_literal(name)})[1].value)::{feed.column(name).type} AS {quoted(name)}" for name in layout["value_columns"].values()
    ]


def _from_path(feed: FeedContract) -> list[str]:
    """SELECT items of the contract columns the file's path gives (the year)."""
    filled = {feed.layout["name_column"], *feed.layout["value_columns"].values(), *(feed.layout.get("unpivot") or {}).values()}
    return [f"file_path.{quoted(c.name)}::{c.type} AS {quoted(c.name)}" for c in feed.columns if c.name not in filled]


def create_row_names(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract) -> None:
    """row_names: every name a table's row may carry (key: compared without case, spaces or
    punctuation), with the code it resolves to, from the layout's `name_lookup` columns of the feed
    the name column references ('|' separates variants). A name given to two codes fails the feed."""
    layout = feed.layout
    reference, key = contracts.reference(feed.column(layout["name_column"]).rules)
    install_macros(con)
    names = " UNION ALL ".join(f"SELECT {quoted(key)} AS code, unnest(string_split({quoted(column)}, '|')) AS name FROM {reference.raw_table}" for column in layout["name_lookup"])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE row_names AS
        SELECT name_key(name) AS key, any_value(code) AS code, count(DISTINCT code) AS codes, any_value(name ORDER BY length(name)) AS name
        FROM ({names})
        WHERE name <> ''
        GROUP BY name_key(name)
        """
    )
    ambiguous = con.execute("SELECT name FROM row_names WHERE codes > 1 LIMIT 1").fetchone()
    if ambiguous:
        (name,) = ambiguous
        raise FeedError(f"{', '.join(reference.files)}: the name {name!r} is given to more than one {layout['name_noun']}")


def stage_ministry_table(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, files: list[LandedFile], staged: Staged) -> dict[str, str]:
    """Normalize formatted tables to the contract's rows (population: year, province_code, size_class,
    enterprises).

    A table line is a record: its cells load together or the line is quarantined (unknown name,
    with the closest known names; a name whose code breaks the contract's rules, say a province not
    valid in the file's year; a cell that is not an Indonesian number; a name listed twice). The
    total line goes to the layout's totals table, so a check can compare it with the sum of the
    rows. Names resolve through the referenced feed's name columns, compared without case, spaces or
    punctuation.

    Returns the files rejected as a whole, with the reason.
    """
    code = feed.column(feed.layout["name_column"])
    create_row_names(con, contracts, feed)
    rejected = _table_lines(con, feed, files)
    _judge(con, contracts, feed, code)
    _stage_judged(con, feed, code, staged)
    return rejected


def _table_lines(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[LandedFile]) -> dict[str, str]:
    """table_lines: every table line of `files` below its header, with its name and the cells of the
    columns the layout names. Returns the files rejected as a whole, with the reason."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE table_lines (source_file VARCHAR, line BIGINT, raw_line VARCHAR, "
        "name VARCHAR, cells STRUCT(name VARCHAR, value VARCHAR, filled VARCHAR, scale INTEGER)[])"
    )
    rejected = {}
    for landed in files:
        if (problem := _table_text(con, feed, landed) or _header_and_lines(con, feed, landed)) is not None:
            rejected[landed.source_file] = problem
    return rejected


def _table_text(con: duckdb.DuckDBPyConnection, feed: FeedContract, landed: LandedFile) -> str | None:
    """table_text: the file's numbered lines, split into fields; or why the file cannot be read."""
    try:
        # The table is small and irregular: split it into numbered lines, then fields, in SQL.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE table_text AS
            WITH text AS (SELECT string_split(ltrim(content, chr(65279)), chr(10)) AS lines FROM read_text($file)),
            numbered AS (SELECT rtrim(unnest(lines), chr(13)) AS text, generate_subscripts(lines, 1) AS line FROM text)
            SELECT line, text, list_transform(string_split(text, $delim), lambda x: nullif(trim(x), '')) AS f
            FROM numbered
            """,
            {"file": str(landed.path), "delim": feed.layout["delimiter"]},
        )
    except UNREADABLE as error:
        return f"cannot be read as text ({str(error).splitlines()[0]})"
    return None


def _header_and_lines(con: duckdb.DuckDBPyConnection, feed: FeedContract, landed: LandedFile) -> str | None:
    """Adds the table lines of table_text (one file) to table_lines, the cells by the header's
    labels; or says why the header does not do (none, or a required column missing)."""
    layout = feed.layout
    labels: dict[str, str] = layout["value_columns"]
    unpivot = layout.get("unpivot")
    header = con.execute("SELECT line, f FROM table_text WHERE f[1] = $h ORDER BY line LIMIT 1", {"h": layout["name_header"]}).fetchone()
    if header is None:
        return f"no header line starting with `{layout['name_header']}`"
    header_line, columns = header
    header_labels = [h for h in columns[1:] if h]
    unknown = [h for h in header_labels if h not in labels]
    missing = [label for label in labels if label not in header_labels]
    if missing:
        return f"line {header_line}: required column `{missing[0]}` missing" + (f"; found `{'`, `'.join(unknown)}`" if unknown else "")

    def filled(label: str) -> ColumnContract:
        return feed.column(unpivot["value_column"] if unpivot else labels[label])

    def scale(label: str) -> str:
        return "NULL" if (s := number_scale(filled(label).type)) is None else str(s)

    # Columns the layout does not name (a share, a note) are not read.
    cells = ", ".join(
        f"{{'name': {sql_literal(labels[label])}, 'value': f[{i + 2}], 'filled': {sql_literal(filled(label).name)}, 'scale': {scale(label)}::INTEGER}}"
        for i, label in enumerate(columns[1:])
        if label in labels
    )
    con.execute(
        f"""
        INSERT INTO table_lines
        SELECT $source_file, line, text, f[1], [{cells}]
        FROM table_text
        -- Lines without a delimiter are titles and notes, not table rows.
        WHERE line > $header_line AND len(f) > 1 AND f[1] IS NOT NULL AND NOT starts_with(f[1], $footnote)
        """,
        {"source_file": landed.source_file, "header_line": header_line, "footnote": layout["footnote_prefix"]},
    )
    return None


def _stage_judged(con: duckdb.DuckDBPyConnection, feed: FeedContract, code: ColumnContract, staged: Staged) -> None:
    """The judged lines, staged for the commit: the rows, the quarantined lines, the lines read per
    file and the total lines."""
    con.execute(
        f"""
        INSERT INTO {staged.rows} BY NAME
        SELECT {", ".join(_from_path(feed))}, code AS {quoted(code.name)}, {", ".join(_values(feed, "cells"))}, source_file
        FROM table_judged WHERE problem IS NULL AND NOT is_total;

        INSERT INTO {staged.quarantine}
        SELECT source_file, line, line, problem.rule, problem.column_name, problem.reason, raw_line, NULL
        FROM table_judged WHERE problem IS NOT NULL;

        INSERT INTO {staged.read} SELECT source_file, count(*) FROM table_lines GROUP BY ALL;

        INSERT INTO {staged.totals} BY NAME
        SELECT {", ".join(_from_path(feed))}, {", ".join(_values(feed, "cells"))}, source_file, line
        FROM table_judged WHERE problem IS NULL AND is_total;
        """
    )


@dataclass(frozen=True)
class LabelJudgement:
    """SQL judging a table line's label, in either table format (lines with `name`, `code`,
    `is_total` and `file_path`; the known names in `row_names`).

    flags     SELECT items: the flags of the code's rules, for the lines
    problems  the list of the code's problems, from the flags (`code_problems`)
    branches  CASE branches of a line's problem (`r`: the line, with `code_problems`): an unknown
              label, with the closest known names whose code breaks no rule; a code that breaks a
              rule of the contract
    """

    flags: list[str]
    problems: str
    branches: str


def label_judgement(contracts: Contracts, feed: FeedContract, code: ColumnContract, label: str) -> LabelJudgement:
    """How both table formats judge a line's label; `label`: what the format calls it (`name`, `label`)."""
    # The contract's rules on the code a name resolves to (valid in the file's year), as on any feed's
    # rows; an unknown name is offered only names whose code breaks none (provinces of that year).
    flags, problems = problems_expression(contracts, [code], lambda _: "code", lambda _: "code", lambda group: f"file_path.{quoted(group)}")
    breaks_a_rule = (
        " OR ".join(f"coalesce({condition}, false)" for _, condition, _ in column_problems(contracts, code, "k.code", "k.code", lambda group: f"r.file_path.{quoted(group)}"))
        or "false"
    )
    branches = f"""WHEN NOT is_total AND code IS NULL THEN struct_pack(
                rule := 'references', column_name := {sql_literal(code.name)},
                reason := 'unknown ' || {sql_literal(feed.layout["name_noun"])} || {sql_literal(f" {label} '")} || name || '''; closest known: ' || (
                    SELECT array_to_string(list(k.name ORDER BY jaro_winkler_similarity(upper(k.name), upper(r.name)) DESC)[1:3], ', ')
                    FROM row_names k WHERE NOT ({breaks_a_rule})))
            WHEN NOT is_total AND len(code_problems) > 0 THEN struct_pack(
                rule := code_problems[1].rule, column_name := code_problems[1].column_name,
                reason := '''' || name || ''': ' || array_to_string(list_transform(code_problems, lambda p: p.reason), '; '))"""
    return LabelJudgement(flags, problems, branches)


def _judge(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, code: ColumnContract) -> None:
    """table_judged: every line with its resolved code, whether it is the total, and its first problem (or NULL)."""
    layout = feed.layout
    unpivot = layout.get("unpivot")
    judgement = label_judgement(contracts, feed, code, "name")
    noun = sql_literal(layout["name_noun"])
    value_column = sql_literal(unpivot["value_column"]) if unpivot else "bad_cells[1].name"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE table_judged AS
        WITH resolved AS (
            SELECT l.*, upper(l.name) = upper($total) AS is_total, n.code, {path_struct_sql(feed, "l.source_file")} AS file_path,
                   list_filter(l.cells, lambda c: id_number(c.value) IS NULL OR length(rtrim(regexp_extract(trim(c.value), ',([0-9]+)$', 1), '0')) > c.scale) AS bad_cells,
                   {_cell_problems(contracts, feed)} AS ruled_cells
            FROM table_lines l LEFT JOIN row_names n ON n.key = name_key(l.name)
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY source_file, coalesce(code, name), is_total ORDER BY line) AS occurrence,
                   {", ".join(judgement.flags)}
            FROM resolved
        ),
        judged AS (SELECT *, {judgement.problems} AS code_problems FROM ranked)
        SELECT r.*, CASE
            {judgement.branches}
            WHEN len(bad_cells) > 0 THEN struct_pack(
                rule := 'type', column_name := {value_column},
                reason := array_to_string(list_transform(bad_cells,
                    lambda c: c.name || CASE WHEN c.scale = 0
                        THEN ' count ' || coalesce('''' || c.value || '''', 'empty') || ' is not a whole number in Indonesian format (e.g. 1.234.567)'
                        WHEN id_number(c.value) IS NULL
                        THEN ' value ' || coalesce('''' || c.value || '''', 'empty') || ' is not a number in Indonesian format (e.g. 1.234.567,8)'
                        ELSE ' value ''' || c.value || ''' has more than ' || c.scale || ' decimal(s), the column''s scale (not rounded)' END), '; '))
            WHEN len(ruled_cells) > 0 THEN struct_pack(
                rule := ruled_cells[1].rule, column_name := ruled_cells[1].column_name,
                reason := array_to_string(list_transform(ruled_cells, lambda p: p.reason), '; '))
            WHEN occurrence > 1 THEN struct_pack(
                rule := 'unique_key', column_name := {sql_literal(code.name)},
                reason := CASE WHEN is_total THEN 'a second national total line'
                               ELSE {noun} || ' ' || code || ' (' || name || ') is listed twice in the table' END)
            END AS problem
        FROM judged r
        """,
        {"total": layout["national_total_label"]},
    )
