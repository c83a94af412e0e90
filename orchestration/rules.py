"""Contract rules as SQL: which rows of a landed file break which rule, and why, in words.

Ingest quarantines rows with these predicates; Pandera (orchestration.validation) checks the same
contract rules on what was loaded. Both read the rules from the contract, nothing restates them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orchestration.contracts import PERIOD_FORMATS, VALID_FROM, VALID_TO, ColumnContract, Contracts
from orchestration.sql import quoted, sql_literal


def _shown(expression: str) -> str:
    """A value as the reason shows it: quoted, shortened."""
    return f"coalesce('''' || left({expression}::VARCHAR, 60) || '''', 'empty')"


def column_problems(
    contracts: Contracts, column: ColumnContract, text: str, typed: str, path_field: Callable[[str], str]
) -> list[tuple[str, str, str]]:
    """(rule, SQL condition that is true when the row breaks it, SQL reason) for one column.

    `text` is the value as landed (VARCHAR, NULL when the field was empty), `typed` the value
    cast to the contract type (NULL when empty or not castable), `path_field` the SQL of a field
    named by the file's path (`month`, `platform`). A value that does not cast is reported once, as a type problem.
    """
    name = column.name
    rules: Mapping[str, Any] = column.rules
    problems = [
        ("type", f"{text} IS NOT NULL AND {typed} IS NULL", f"'`{name}` value ' || {_shown(text)} || ' is not a {column.type}'")
    ]
    if column.required:
        problems.append(("required", f"{text} IS NULL", f"'`{name}` is empty'"))
    if "min" in rules:
        problems.append(("min", f"{typed} < {sql_literal(rules['min'])}", f"'`{name}` is ' || {typed} || ', below the minimum {rules['min']}'"))
    if "max" in rules:
        problems.append(("max", f"{typed} > {sql_literal(rules['max'])}", f"'`{name}` is ' || {typed} || ', above the maximum {rules['max']}'"))
    if (values := contracts.accepted_values(rules)) is not None:
        listed = ", ".join(sql_literal(v) for v in values)
        problems.append(
            ("accepted_values", f"{typed} NOT IN ({listed})", f"'`{name}` ' || {_shown(typed)} || ' is not one of {', '.join(values)}'")
        )
    if "pattern" in rules:
        problems.append(
            (
                "pattern",
                f"NOT regexp_full_match({typed}, {sql_literal(rules['pattern'])})",
                f"'`{name}` ' || {_shown(typed)} || ' does not match {rules['pattern']}'",
            )
        )
    if (reference := contracts.reference(rules)) is not None:
        feed, ref_column = reference
        problems.append(
            (
                "references",
                f"{typed} NOT IN (SELECT {quoted(ref_column)} FROM {feed.raw_table} WHERE {quoted(ref_column)} IS NOT NULL)",
                f"'`{name}` ' || {_shown(typed)} || ' is not a known {rules['references']}'",
            )
        )
    if (period := rules.get("valid_in_period")) is not None:
        feed, ref_column = contracts.reference(rules)
        # The referenced row's validity, looked up in a map built once per statement (NULL for an
        # unknown value, which `references` reports). Dates and the path's period compare as text
        # at the period's resolution: a row valid on any day of the period is valid in it.
        validity = (
            f"(SELECT map(list({quoted(ref_column)}), list({{'valid_from': {quoted(VALID_FROM)}, 'valid_to': {quoted(VALID_TO)}}})) "
            f"FROM {feed.raw_table})[{typed}]"
        )
        in_period, fmt = path_field(period), sql_literal(PERIOD_FORMATS[period])
        problems.append(
            (
                "valid_in_period",
                f"(strftime({validity}.valid_from, {fmt}) > {in_period} OR strftime({validity}.valid_to, {fmt}) < {in_period})",
                f"'`{name}` ' || {_shown(typed)} || ' is not a {rules['references']} in ' || {in_period} || ' ('"
                f" || concat_ws(' ', 'valid', 'from ' || {validity}.valid_from, 'to ' || {validity}.valid_to) || ')'",
            )
        )
    if rules.get("in_file_month"):
        month = f"strftime({typed}, '%Y-%m')" if column.type in ("DATE", "TIMESTAMP") else typed
        problems.append(
            (
                "in_file_month",
                f"{month} <> {path_field('month')}",
                f"'`{name}` ' || {_shown(typed)} || ' is outside the file''s month ' || {path_field('month')}",
            )
        )
    if (field := rules.get("from_path")) is not None:
        problems.append(
            (
                "from_path",
                f"{typed} <> {path_field(field)}",
                f"'`{name}` ' || {_shown(typed)} || ' is not the {field} its file is named for, ' || {_shown(path_field(field))}",
            )
        )
    return problems


def problems_expression(
    contracts: Contracts,
    columns: list[ColumnContract],
    text: Callable[[str], str],
    typed: Callable[[str], str],
    path_field: Callable[[str], str],
) -> tuple[list[str], str]:
    """Every rule a row breaks, as a SQL list of {rule, column_name, reason} structs (empty when clean).

    `text` / `typed` give the SQL of a column's landed text and typed value from its name. Returns
    the SELECT items that flag each rule (`broken_<n>`), to evaluate once per row, and the list
    expression over those flags; reasons are only built for rows that break something.
    """
    flags, items = [], []
    for column in columns:
        t, v = text(column.name), typed(column.name)
        for rule, condition, reason in column_problems(contracts, column, t, v, path_field):
            # Rules other than `type`/`required` only judge values that cast.
            guard = "" if rule in ("type", "required") else f"{v} IS NOT NULL AND "
            flag = f"broken_{len(flags)}"
            flags.append(f"coalesce({guard}{condition}, false) AS {flag}")
            items.append(f"CASE WHEN {flag} THEN {{'rule': '{rule}', 'column_name': {sql_literal(column.name)}, 'reason': {reason}}} END")
    any_broken = " OR ".join(f"broken_{i}" for i in range(len(flags)))
    problems = f"CASE WHEN {any_broken} THEN list_filter([{', '.join(items)}], lambda p: p IS NOT NULL) ELSE [] END"
    return flags, problems
