"""The contract's rule vocabulary, one definition per rule.

A rule says, in one place: the option it takes in sources/contracts.yml (or a dbt model's
`meta.rules`), the SQL that finds the landed rows that break it with the reason in words (ingest
quarantines them), the Pandera check of the rows loaded (orchestration.quality.validation) and how the docs
describe it. Nothing else interprets the vocabulary: a new rule is a new entry in RULES.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from orchestration.sql import quoted, sql_literal

if TYPE_CHECKING:
    import pandera.ibis as pa
    from ibis.backends import BaseBackend

    from orchestration.contracts.model import ColumnContract, Contracts, FeedContract

# A `valid_in_period` rule reads the referenced feed's validity from these columns (empty: open-ended)
# and compares it with the period its file's path names, at that period's resolution.
VALID_FROM, VALID_TO = "valid_from", "valid_to"
PERIOD_FORMATS = {"month": "%Y-%m", "year": "%Y"}


# ---------------------------------------------------------------------------------------------
# Options as the contracts file gives them, validated with one error in words each.


def contract_problem(text: str) -> PydanticCustomError:
    # The text is passed as context, so braces in it (regexes) are not read as placeholders.
    return PydanticCustomError("contract", "{problem}", {"problem": text})


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise contract_problem(f"{value!r} is not a regular expression ({error})") from None
    return value


# Plain validators for the options that take either of two shapes: one error in words instead of
# one error per member of a union.
def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise contract_problem(f"{value!r} is not a number")
    return value


def _code_list_or_values(value: Any) -> str | list[str]:
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return value
    raise contract_problem(f"{value!r} is neither the name of a code list nor a list of strings")


Regex = Annotated[str, AfterValidator(_regex)]
Number = Annotated[int | float, PlainValidator(_number)]
CodeListOrValues = Annotated[str | list[str], PlainValidator(_code_list_or_values)]


# ---------------------------------------------------------------------------------------------
# The rules.

# The SQL of a rule for one column: (condition true when the row breaks it, reason) or None when the
# column does not have the rule. Arguments: the contracts, the column, the SQL of the value as landed
# (VARCHAR, NULL when the field was empty), of the value cast to the column's type (NULL when empty
# or not castable), and of a field its file's path names (`month`, `platform`).
RuleSql = Callable[["Contracts", "ColumnContract", str, str, Callable[[str], str]], "tuple[str, str] | None"]


def _nothing(*_: Any) -> None:
    return None


@dataclass(frozen=True)
class Rule:
    name: str
    option: Any  # the type of its option in the contracts file; None: not an option (the column type)
    sql: RuleSql
    describe: Callable[[Contracts, Mapping[str, Any]], str | None] = _nothing
    # Pandera: a check of the column's values (from the rules and the referenced feeds' tables in the
    # backend), or of whole rows (the path).
    column_check: Callable[[Contracts, Mapping[str, Any], BaseBackend], pa.Check | None] = _nothing
    frame_check: Callable[[Contracts, FeedContract, ColumnContract, BaseBackend], pa.Check | None] = _nothing
    # The group of the feed's path_pattern the rule compares the value with, if any.
    path_group: Callable[[Mapping[str, Any]], str | None] = _nothing
    # Whether the rule judges the landed text; the others only judge values that cast.
    judges_text: bool = False


def _pandera() -> Any:
    import pandera.ibis as pa  # only where loaded rows are checked: ingest and the docs do without

    return pa


def _column_check(name: str, error: str, holds: Callable[[Any], Any]) -> pa.Check:
    """A check of one column, `holds(column)`: a boolean column of the checked table itself (NULL
    passes), named as Pandera's built-in of the same test. The built-ins return a projection that
    Pandera's ibis backend joins back to the table, by position in DuckDB, by a `row_number()`
    over the whole table in Spark; a column of the table is what validation folds into one query
    per table with every other rule (orchestration.quality.validation.folded)."""
    return _pandera().Check(lambda data: holds(data.table[data.key]), name=name, error=error)


def _at_least(low: Any, error: str | None = None) -> pa.Check:
    return _column_check("greater_than_or_equal_to", error or f"greater_than_or_equal_to({low})", lambda c: c >= low)


def _at_most(high: Any, error: str | None = None) -> pa.Check:
    return _column_check("less_than_or_equal_to", error or f"less_than_or_equal_to({high})", lambda c: c <= high)


def _one_of(values: list[Any], error: str | None = None) -> pa.Check:
    return _column_check("isin", error or f"isin({values})", lambda c: c.isin(values))


def warehouse_table(backend: BaseBackend, name: str) -> Any:
    """A table by its qualified name (`schema.table`)."""
    schema_name, _, table_name = name.rpartition(".")
    return backend.table(table_name, database=schema_name or None)


def _shown(expression: str) -> str:
    """A value as the reason shows it: quoted, shortened."""
    return f"coalesce('''' || left({expression}::VARCHAR, 60) || '''', 'empty')"


# The text a number may be landed as, by type: plain digits, a leading minus, and for a DECIMAL(p,s)
# a point and at most s decimals (more would be rounded away). DuckDB's casts accept more and change
# the value on the way: '2.7' casts to the BIGINT 3, '1_000_000' to a million, '1e3' to 1000, '0x10'
# to 16, ' 5' to 5, and '1.005' to the DECIMAL(18,2) 1.01. Only a DOUBLE may have an exponent.
_DECIMAL_TYPE = re.compile(r"DECIMAL\((\d+),(\d+)\)")


def number_scale(type_name: str) -> int | None:
    """The decimals a value of a numeric type may be landed with: 0 for a whole number, s for a
    DECIMAL(p,s); None for a DOUBLE (any) and for other types."""
    if type_name in ("BIGINT", "INTEGER"):
        return 0
    decimal = _DECIMAL_TYPE.fullmatch(type_name)
    return int(decimal[2]) if decimal else None


def number_form(type_name: str) -> tuple[str, str] | None:
    """(regular expression, words) of the text a value of a numeric type may be landed as; None for other types."""
    scale = number_scale(type_name)
    if scale == 0:
        return "-?[0-9]+", "a whole number in digits, e.g. 1250"
    if scale is not None:
        return f"-?[0-9]+([.][0-9]{{1,{scale}}})?", f"digits with at most {scale} decimals after a point, e.g. 1250.{'5' * scale}"
    if type_name == "DOUBLE":
        return "-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?", "a number in digits with a decimal point, e.g. 1250.5 or 1.25e3"
    return None


def cast_sql(type_name: str, text: str) -> str:
    """SQL of the value of landed text as the contract's type: NULL when empty, or when the text is
    not a form the type may be landed as (NUMBER_FORMS), or does not cast."""
    cast = f"TRY_CAST({text} AS {type_name})"
    if (form := number_form(type_name)) is None:
        return cast
    return f"CASE WHEN regexp_full_match({text}, {sql_literal(form[0])}) THEN {cast} END"


def _type_sql(contracts, column, text, typed, path_field):
    words = f" ({form[1]})" if (form := number_form(column.type)) is not None else ""
    return f"{text} IS NOT NULL AND {typed} IS NULL", f"'`{column.name}` value ' || {_shown(text)} || ' is not a {column.type}{words}'"


def _required_sql(contracts, column, text, typed, path_field):
    return (f"{text} IS NULL", f"'`{column.name}` is empty'") if column.required else None


def _bound(name: str, operator: str, words: str) -> Rule:
    def sql(contracts, column, text, typed, path_field):
        if name not in column.rules:
            return None
        limit = column.rules[name]
        return f"{typed} {operator} {sql_literal(limit)}", f"'`{column.name}` is ' || {typed} || ', {words} {limit}'"

    def check(contracts, rules, backend):
        if name not in rules:
            return None
        return _at_least(rules[name]) if operator == "<" else _at_most(rules[name])

    symbol = "≥" if operator == "<" else "≤"
    return Rule(
        name,
        Number,
        sql,
        describe=lambda contracts, rules: f"{symbol} {rules[name]}" if name in rules else None,
        column_check=check,
    )


class PlausibleRange(BaseModel):
    """`plausible: {min, max, reason}`: the range a value can be believed in, and why. Unlike `min` and
    `max` (what a value can be at all), a value beyond it is possible in type but not believable: a
    typo, a sentinel such as 9999999999999999.99, a unit mix-up."""

    model_config = ConfigDict(extra="forbid", strict=True)
    min: Number | None = None
    max: Number | None = None
    reason: str

    @model_validator(mode="after")
    def _bounded(self) -> PlausibleRange:
        if self.min is None and self.max is None:
            raise contract_problem("needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise contract_problem(f"min {self.min} is above max {self.max}")
        if not self.reason.strip():
            raise contract_problem("needs a `reason` saying why the range is plausible")
        return self


def _plausible_bounds(plausible: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(SQL operator a value beyond the bound has to it, words, bound) of each bound of a `plausible` rule."""
    sides = (("min", "<", "below the plausible minimum"), ("max", ">", "above the plausible maximum"))
    return [(op, words, plausible[name]) for name, op, words in sides if plausible.get(name) is not None]


def _plausible_reason(plausible: Mapping[str, Any]) -> str:
    return " ".join(plausible["reason"].split())


def _plausible_sql(contracts, column, text, typed, path_field):
    if (plausible := column.rules.get("plausible")) is None:
        return None
    bounds = _plausible_bounds(plausible)
    which = " ".join(f"WHEN {typed} {op} {sql_literal(bound)} THEN {sql_literal(f', {words} {bound:,}: ')}" for op, words, bound in bounds)
    return (
        " OR ".join(f"{typed} {op} {sql_literal(bound)}" for op, _, bound in bounds),
        f"'`{column.name}` is ' || {typed} || CASE {which} END || {sql_literal(_plausible_reason(plausible))}",
    )


def _plausible_check(contracts, rules, backend):
    if (plausible := rules.get("plausible")) is None:
        return None
    low, high = plausible.get("min"), plausible.get("max")
    error = f"plausible({'' if low is None else low}..{'' if high is None else high})"
    if low is not None and high is not None:
        return _column_check("in_range", error, lambda c: c.between(low, high))
    return _at_least(low, error) if low is not None else _at_most(high, error)


def _describe_plausible(contracts, rules):
    if (plausible := rules.get("plausible")) is None:
        return None
    bounds = " and ".join(f"{'≥' if op == '<' else '≤'} {bound:,}" for op, _, bound in _plausible_bounds(plausible))
    return f"plausibly {bounds} ({_plausible_reason(plausible)})"


def _accepted_sql(contracts, column, text, typed, path_field):
    if (values := contracts.accepted_values(column.rules)) is None:
        return None
    listed = ", ".join(sql_literal(v) for v in values)
    return f"{typed} NOT IN ({listed})", f"'`{column.name}` ' || {_shown(typed)} || ' is not one of {', '.join(values)}'"


def _accepted_check(contracts, rules, backend):
    values = contracts.accepted_values(rules)
    return None if values is None else _one_of(list(values))


def _pattern_sql(contracts, column, text, typed, path_field):
    if (pattern := column.rules.get("pattern")) is None:
        return None
    return f"NOT regexp_full_match({typed}, {sql_literal(pattern)})", f"'`{column.name}` ' || {_shown(typed)} || ' does not match {pattern}'"


def _pattern_check(contracts, rules, backend):
    if "pattern" not in rules:
        return None
    pattern = f"^(?:{rules['pattern']})$"
    return _column_check("str_matches", f"str_matches('{pattern}')", lambda c: c.re_search(pattern))


def _references_sql(contracts, column, text, typed, path_field):
    if (reference := contracts.reference(column.rules)) is None:
        return None
    feed, key = reference
    return (
        f"{typed} NOT IN (SELECT {quoted(key)} FROM {feed.raw_table} WHERE {quoted(key)} IS NOT NULL)",
        f"'`{column.name}` ' || {_shown(typed)} || ' is not a known {column.rules['references']}'",
    )


def _references_check(contracts, rules, backend):
    if (reference := contracts.reference(rules)) is None:
        return None
    feed, key = reference
    table = warehouse_table(backend, feed.raw_table)
    referenced = table.filter(table[key].notnull()).select(key).distinct().to_pyarrow()[key].to_pylist()
    return _one_of(referenced, f"references({rules['references']})")


def _valid_in_period_sql(contracts, column, text, typed, path_field):
    if (period := column.rules.get("valid_in_period")) is None:
        return None
    feed, key = contracts.reference(column.rules)
    fmt = sql_literal(PERIOD_FORMATS[period])
    # The validity of the referenced rows that have one (few), looked up in a map built once per
    # statement: a value without bounds (or unknown, which `references` reports) is valid. Dates
    # compare with the path's period as text at the period's resolution: a row valid on any day of
    # the period is valid in it.
    validity = (
        f"(SELECT map(list({quoted(key)}), list({{'valid_from': {quoted(VALID_FROM)}, 'valid_to': {quoted(VALID_TO)}, "
        f"'first': strftime({quoted(VALID_FROM)}, {fmt}), 'last': strftime({quoted(VALID_TO)}, {fmt})}})) "
        f"FROM {feed.raw_table} WHERE {quoted(VALID_FROM)} IS NOT NULL OR {quoted(VALID_TO)} IS NOT NULL)[{typed}]"
    )
    in_period = path_field(period)
    return (
        f"({validity}.first > {in_period} OR {validity}.last < {in_period})",
        f"'`{column.name}` ' || {_shown(typed)} || ' is not a {column.rules['references']} in ' || {in_period} || ' ('"
        f" || concat_ws(' ', 'valid', 'from ' || {validity}.valid_from, 'to ' || {validity}.valid_to) || ')'",
    )


def _valid_in_period_check(contracts, feed, column, backend):
    """The referenced row is valid in the period its row's file path names. Only referenced rows with
    a valid_from or valid_to can fail it (none: no check)."""
    if (period := column.rules.get("valid_in_period")) is None:
        return None
    import ibis

    reference, key = contracts.reference(column.rules)
    table = warehouse_table(backend, reference.raw_table)
    # Validity at the period's resolution: text that compares with the path's period (2022-12, 2022).
    fmt = PERIOD_FORMATS[period]
    bounds = [
        tuple(row.values())
        for row in table.filter(table[VALID_FROM].notnull() | table[VALID_TO].notnull())
        .select(code=table[key], first=table[VALID_FROM].strftime(fmt), last=table[VALID_TO].strftime(fmt))
        .to_pyarrow()
        .to_pylist()
    ]
    if not bounds:
        return None
    in_path = _path_field(feed.path_pattern, period)

    def check(data) -> Any:
        table = data.table
        value, in_period = table[column.name], in_path(table)

        def valid(first: str | None, last: str | None) -> Any:
            return ibis.and_(*([in_period >= first] if first else []), *([in_period <= last] if last else []))

        # A missing value or period is for the other rules to report.
        return ibis.and_(*[(value != code) | valid(first, last) for code, first, last in bounds]).fill_null(True)

    return _pandera().Check(check, name="valid_in_period", error=f"valid_in_period({column.name})")


def _path_field(path_pattern: str, field: str) -> Callable[[Any], Any]:
    """The ibis expression of the `field` its row's file path names (`source_file`), by the group's
    number: Spark's (Java's) regexes do not read Python's `(?P<name>...)`."""
    index = re.compile(path_pattern).groupindex[field]
    numbered = re.sub(r"\(\?P<\w+>", "(", path_pattern)
    return lambda table: table.source_file.re_extract(numbered, index)


def _path_field_check(rule: str, group: Callable[[Mapping[str, Any]], str | None], by_month: bool = False) -> Callable:
    """The frame check of a rule comparing a column's value with the field its row's file path names
    (`group` of the column's rules); `by_month`: a date is compared as its month (YYYY-MM)."""

    def frame_check(contracts, feed, column, backend):
        if (field := group(column.rules)) is None:
            return None
        in_path = _path_field(feed.path_pattern, field)
        dated = by_month and column.type in ("DATE", "TIMESTAMP")

        def check(data) -> Any:
            table = data.table
            value = table[column.name].strftime("%Y-%m") if dated else table[column.name]
            return value == in_path(table)

        return _pandera().Check(check, name=rule, error=f"{rule}({column.name})")

    return frame_check


def _in_file_month_group(rules: Mapping[str, Any]) -> str | None:
    return "month" if rules.get("in_file_month") else None


def _from_path_group(rules: Mapping[str, Any]) -> str | None:
    return rules.get("from_path")


def _in_file_month_sql(contracts, column, text, typed, path_field):
    if not column.rules.get("in_file_month"):
        return None
    month = f"strftime({typed}, '%Y-%m')" if column.type in ("DATE", "TIMESTAMP") else typed
    return f"{month} <> {path_field('month')}", f"'`{column.name}` ' || {_shown(typed)} || ' is outside the file''s month ' || {path_field('month')}"


def _from_path_sql(contracts, column, text, typed, path_field):
    if (field := column.rules.get("from_path")) is None:
        return None
    return (
        f"{typed} <> {path_field(field)}",
        f"'`{column.name}` ' || {_shown(typed)} || ' is not the {field} its file is named for, ' || {_shown(path_field(field))}",
    )


# In the order ingest judges a row: its quarantine record names the first rule the row breaks.
RULES = (
    Rule("type", None, _type_sql, judges_text=True),
    Rule(
        "required",
        bool,
        _required_sql,
        judges_text=True,
        describe=lambda contracts, rules: "may be empty" if not rules.get("required", True) else None,
    ),
    _bound("min", "<", "below the minimum"),
    _bound("max", ">", "above the maximum"),
    Rule("plausible", PlausibleRange, _plausible_sql, describe=_describe_plausible, column_check=_plausible_check),
    Rule(
        "accepted_values",
        CodeListOrValues,
        _accepted_sql,
        describe=lambda contracts, rules: "one of " + ", ".join(f"`{v}`" for v in values) if (values := contracts.accepted_values(rules)) else None,
        column_check=_accepted_check,
    ),
    Rule(
        "pattern",
        Regex,
        _pattern_sql,
        describe=lambda contracts, rules: f"matches `{rules['pattern']}`" if "pattern" in rules else None,
        column_check=_pattern_check,
    ),
    Rule(
        "references",
        str,
        _references_sql,
        describe=lambda contracts, rules: f"exists in `{rules['references']}`" if "references" in rules else None,
        column_check=_references_check,
    ),
    Rule(
        "valid_in_period",
        Literal[tuple(PERIOD_FORMATS)],
        _valid_in_period_sql,
        describe=lambda contracts, rules: f"valid in the file's {rules['valid_in_period']}" if "valid_in_period" in rules else None,
        frame_check=_valid_in_period_check,
        path_group=lambda rules: rules.get("valid_in_period"),
    ),
    Rule(
        "in_file_month",
        bool,
        _in_file_month_sql,
        describe=lambda contracts, rules: "inside the file's month" if rules.get("in_file_month") else None,
        frame_check=_path_field_check("in_file_month", _in_file_month_group, by_month=True),
        path_group=_in_file_month_group,
    ),
    Rule(
        "from_path",
        str,
        _from_path_sql,
        describe=lambda contracts, rules: f"equals the file path's `{rules['from_path']}`" if "from_path" in rules else None,
        frame_check=_path_field_check("from_path", _from_path_group),
        path_group=_from_path_group,
    ),
)


# ---------------------------------------------------------------------------------------------
# The vocabulary applied to a column, by each reader of it.


def describe_rules(contracts: Contracts, rules: Mapping[str, Any]) -> str:
    """The rules in words, for the docs ('' when the column has none but being required)."""
    return "; ".join(text for rule in RULES if (text := rule.describe(contracts, rules)))


def column_checks(contracts: Contracts, rules: Mapping[str, Any], backend: BaseBackend) -> list[pa.Check]:
    """Pandera checks of a column's values, from its rules (a contract column's or a dbt model's);
    `backend` holds the tables of the feeds a rule references (their keys are looked up once)."""
    return [check for rule in RULES if (check := rule.column_check(contracts, rules, backend)) is not None]


def frame_checks(contracts: Contracts, feed: FeedContract, column: ColumnContract, backend: BaseBackend) -> list[pa.Check]:
    """Pandera checks of whole rows for a feed column's rules that compare it with its file's path."""
    return [check for rule in RULES if (check := rule.frame_check(contracts, feed, column, backend)) is not None]


def path_groups(rules: Mapping[str, Any]) -> dict[str, str]:
    """Rule → the group of the feed's path_pattern it compares the value with."""
    return {rule.name: group for rule in RULES if (group := rule.path_group(rules)) is not None}


def column_problems(contracts: Contracts, column: ColumnContract, text: str, typed: str, path_field: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """(rule, SQL condition that is true when the row breaks it, SQL reason) for one column.

    A value that does not cast is reported once, as a type problem.
    """
    return [(rule.name, *judged) for rule in RULES if (judged := rule.sql(contracts, column, text, typed, path_field)) is not None]


def _judged(
    contracts: Contracts, columns: list[ColumnContract], text: Callable[[str], str], typed: Callable[[str], str], path_field: Callable[[str], str]
) -> list[tuple[str, str, str, str]]:
    """(rule, column, SQL that is true exactly when the row breaks it, SQL reason) of every rule of `columns`."""
    judged = []
    judges_text = {rule.name for rule in RULES if rule.judges_text}
    for column in columns:
        t, v = text(column.name), typed(column.name)
        for rule, condition, reason in column_problems(contracts, column, t, v, path_field):
            guard = "" if rule in judges_text else f"{v} IS NOT NULL AND "
            judged.append((rule, column.name, f"coalesce({guard}{condition}, false)", reason))
    return judged


def broken_expression(contracts: Contracts, columns: list[ColumnContract], text: Callable[[str], str], typed: Callable[[str], str], path_field: Callable[[str], str]) -> str:
    """SQL that is true when a row breaks any rule of `columns`: the whole judgement of a clean row."""
    return " OR ".join(f"({broken})" for _, _, broken, _ in _judged(contracts, columns, text, typed, path_field)) or "false"


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
    for rule, column, broken, reason in _judged(contracts, columns, text, typed, path_field):
        flag = f"broken_{len(flags)}"
        flags.append(f"{broken} AS {flag}")
        items.append(f"CASE WHEN {flag} THEN {{'rule': '{rule}', 'column_name': {sql_literal(column)}, 'reason': {reason}}} END")
    any_broken = " OR ".join(f"broken_{i}" for i in range(len(flags)))
    problems = f"CASE WHEN {any_broken} THEN list_filter([{', '.join(items)}], lambda p: p IS NOT NULL) ELSE [] END"
    return flags, problems
