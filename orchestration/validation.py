"""Pandera schemas built from dbt model docs (staging, marts: what each model adds) and from the
contracts (`feed_schema`: the contract's rules as Pandera reads them, which the tests hold what
ingest loaded to; ingest alone enforces them in a run).

Validation runs inside DuckDB through Pandera's ibis backend: every check is an aggregate query
over the table, and only failing rows come back to Python, as failure cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis
import pandera.ibis as pa
from ibis.backends.sql.datatypes import DuckDBType

from orchestration.contracts import PERIOD_FORMATS, VALID_FROM, VALID_TO, ColumnContract, Contracts, FeedContract

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Failure:
    column: str | None
    check: str
    count: int
    sample: list[Any]

    def describe(self) -> str:
        where = f"column `{self.column}`" if self.column else "table"
        return f"{where} failed {self.check} on {self.count} row(s); e.g. {self.sample}"


@dataclass(frozen=True)
class ValidationReport:
    table: str
    rows: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"{self.table}: {self.rows} rows passed every check"
        return f"{self.table}: " + "; ".join(f.describe() for f in self.failures)


def _path_field_check(rule: str, column: str, value: Callable[[ibis.Value], ibis.Value], path_pattern: str, group: str) -> pa.Check:
    """The column's value (as `value` shows it) equals a field its row's file path names."""
    index = re.compile(path_pattern).groupindex[group]

    def check(data) -> Any:
        table = data.table
        return value(table[column]) == table.source_file.re_extract(path_pattern, index)

    return pa.Check(check, name=rule, error=f"{rule}({column})")


def _validity_check(con: duckdb.DuckDBPyConnection, contracts: Contracts, feed: FeedContract, column: ColumnContract) -> pa.Check | None:
    """The check of a `valid_in_period` rule: the referenced row is valid in the period its row's file
    path names. Only referenced rows with a valid_from or valid_to can fail it (none: no check)."""
    period = column.rules.get("valid_in_period")
    if period is None:
        return None
    reference, key = contracts.reference(column.rules)
    fmt = PERIOD_FORMATS[period]
    # Validity at the period's resolution: text that compares with the path's period (2022-12, 2022).
    bounds = con.execute(
        f'SELECT "{key}", strftime({VALID_FROM}, $fmt), strftime({VALID_TO}, $fmt) FROM {reference.raw_table} '
        f"WHERE {VALID_FROM} IS NOT NULL OR {VALID_TO} IS NOT NULL",
        {"fmt": fmt},
    ).fetchall()
    if not bounds:
        return None
    index = re.compile(feed.path_pattern).groupindex[period]

    def check(data) -> Any:
        table = data.table
        value, in_period = table[column.name], table.source_file.re_extract(feed.path_pattern, index)

        def valid(first: str | None, last: str | None) -> ibis.Value:
            return ibis.and_(*([in_period >= first] if first else []), *([in_period <= last] if last else []))

        # A missing value or period is for the other rules to report.
        return ibis.and_(*[(value != code) | valid(first, last) for code, first, last in bounds]).fill_null(True)

    return pa.Check(check, name="valid_in_period", error=f"valid_in_period({column.name})")


def _path_checks(feed: FeedContract, column: ColumnContract) -> list[pa.Check]:
    """Checks of the rules comparing a column with its file's path: in_file_month, from_path."""
    checks = []
    if column.rules.get("in_file_month"):
        as_month = (lambda v: v.strftime("%Y-%m")) if column.type in ("DATE", "TIMESTAMP") else (lambda v: v)
        checks.append(_path_field_check("in_file_month", column.name, as_month, feed.path_pattern, "month"))
    if (group := column.rules.get("from_path")) is not None:
        checks.append(_path_field_check("from_path", column.name, lambda v: v, feed.path_pattern, group))
    return checks


def column_checks(rules: Mapping[str, Any], accepted: Iterable[str] | None, referenced: list[Any] | None) -> list[pa.Check]:
    """Pandera checks for one column from the contract rule vocabulary."""
    checks = []
    if "min" in rules:
        checks.append(pa.Check.ge(rules["min"]))
    if "max" in rules:
        checks.append(pa.Check.le(rules["max"]))
    if accepted is not None:
        checks.append(pa.Check.isin(list(accepted)))
    if "pattern" in rules:
        checks.append(pa.Check.str_matches(f"^(?:{rules['pattern']})$"))
    if referenced is not None:
        checks.append(pa.Check.isin(referenced, error=f"references({rules['references']})"))
    return checks


def _referenced_values(con: duckdb.DuckDBPyConnection, contracts: Contracts, rules: Mapping[str, Any]) -> list[Any] | None:
    reference = contracts.reference(rules)
    if reference is None:
        return None
    feed, column = reference
    return [r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM {feed.raw_table}').fetchall()]


def feed_schema(contracts: Contracts, feed: FeedContract, con: duckdb.DuckDBPyConnection, columns: Iterable[str] | None = None) -> pa.DataFrameSchema:
    """The Pandera schema of a feed's contract, over `columns` (default: all of them)."""
    wanted = set(columns) if columns is not None else set(feed.column_names)
    pandera_columns = {}
    frame_checks = []
    for c in feed.columns:
        if c.name not in wanted:
            continue
        checks = column_checks(c.rules, contracts.accepted_values(c.rules), _referenced_values(con, contracts, c.rules))
        pandera_columns[c.name] = pa.Column(DuckDBType.from_string(c.type), checks=checks, nullable=not c.required)
        frame_checks += _path_checks(feed, c)
        if (validity := _validity_check(con, contracts, feed, c)) is not None:
            frame_checks.append(validity)
    key = [k for k in feed.key if k in wanted]
    return pa.DataFrameSchema(pandera_columns, checks=frame_checks, name=feed.raw_table, metadata={"key": key})


def dbt_meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `meta` of a dbt node or column from the manifest (under `config` in recent dbt)."""
    return props.get("config", {}).get("meta") or props.get("meta") or {}


def model_schema(node: Mapping[str, Any], contracts: Contracts, con: duckdb.DuckDBPyConnection) -> pa.DataFrameSchema:
    """The Pandera schema of a dbt model, from its yml: what the model adds or could break.

    A model whose `meta.feed` names a feed projects that feed's raw table, whose rows ingest
    already held to the contract: its columns are checked for their types only (the contract's,
    or `data_type`), a schema check that scans no row, and only the columns with `meta.rules`
    (those it derives) for those rules. In a model without a feed every column is checked for its
    `meta.rules` (the contract vocabulary) and is required unless `required: false`. Keys are the
    dbt tests in the yml, not checked here.
    """
    meta = dbt_meta(node)
    projected = {c.name: c.type for c in contracts.feeds[meta["feed"]].columns} if "feed" in meta else None
    columns = {}
    for name, spec in (node.get("columns") or {}).items():
        rules = dbt_meta(spec).get("rules") or {}
        type_name = spec.get("data_type") or (projected or {}).get(name)
        dtype = DuckDBType.from_string(type_name) if type_name else None
        if projected is not None and not rules:
            columns[name] = pa.Column(dtype, nullable=True, required=True)
            continue
        checks = column_checks(rules, contracts.accepted_values(rules), _referenced_values(con, contracts, rules))
        columns[name] = pa.Column(dtype, checks=checks, nullable=not rules.get("required", True), required=True)
    return pa.DataFrameSchema(columns, name=f"{node['schema']}.{node['alias'] or node['name']}")


def row_checks(schema: pa.DataFrameSchema) -> int:
    """How many queries over the rows Pandera runs for `schema` (a type check reads none)."""
    return len(schema.checks) + sum(len(c.checks) + (not c.nullable) for c in schema.columns.values()) + bool((schema.metadata or {}).get("key"))


def validate(
    con: duckdb.DuckDBPyConnection, table: str, schema: pa.DataFrameSchema, where: Callable[[ibis.Table], ibis.Value] | None = None
) -> ValidationReport:
    """Validate a warehouse table in place (only the rows `where` selects, if given: a load's files,
    a run's months); failing rows come back as failure cases. Duplicate keys are looked for among
    all the table's rows that share a key with a checked row."""
    backend = ibis.duckdb.from_connection(con)
    schema_name, _, table_name = table.rpartition(".")
    whole = backend.table(table_name, database=schema_name or None)
    relation = whole.filter(where(whole)) if where is not None else whole
    rows = relation.count().execute()
    # A small part of a big table (a new month, a load's files) is copied once, so that each of
    # several checks scans the copy rather than filtering the whole table again.
    scoped = where is not None and row_checks(schema) > 1 and rows < SCOPE_SHARE * whole.count().execute()
    if scoped:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE_TABLE} AS {backend.compile(relation)}")
        relation = backend.table(SCOPE_TABLE, database="temp.main")
    try:
        # Pandera's ibis backend reports duplicate keys as an unevaluated expression, so the key
        # (schema metadata) is checked here instead, by one aggregate that returns counts and a sample of the keys.
        key = (schema.metadata or {}).get("key") or []
        failures = _duplicate_keys(con, table, key, f"temp.main.{SCOPE_TABLE}" if scoped else None) if key else []
        if rows > 0:  # Pandera's ibis backend reports the checks of an empty relation as failed
            failures += _pandera_failures(schema, relation)
    finally:
        if scoped:
            con.execute(f"DROP TABLE temp.main.{SCOPE_TABLE}")
    return ValidationReport(table, rows, failures)


SCOPE_SHARE = 0.5
SCOPE_TABLE = "validation_scope"


def _pandera_failures(schema: pa.DataFrameSchema, relation: ibis.Table) -> list[Failure]:
    try:
        schema.validate(relation, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = []
        cases = errors.failure_cases
        for (context, check), group in cases.groupby(["schema_context", "check"], dropna=False, sort=False):
            first = group["failure_case"].iloc[0]
            # Column checks report {column: value}; schema checks report whole rows or names.
            column = next(iter(first)) if context == "Column" and isinstance(first, dict) else None
            if context == "Column" and not isinstance(first, dict):
                column = str(group["column"].iloc[0])
            failures.append(
                Failure(
                    column=column,
                    check=str(check),
                    count=len(group),
                    sample=[_plain(v) for v in group["failure_case"].head(SAMPLE_SIZE)],
                )
            )
        return failures
    return []


def _duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, key: list[str], scope: str | None) -> list[Failure]:
    """Keys held by more than one row of `table` (only keys found in `scope`, a table, if given)."""
    cols = ", ".join(f'"{k}"' for k in key)
    among = f"SEMI JOIN {scope} USING ({cols})" if scope else ""
    groups, rows, sample = con.execute(
        f"""
        SELECT count(*), coalesce(sum(n), 0), list(struct_pack({cols}) ORDER BY {cols})[1:{SAMPLE_SIZE}]
        FROM (SELECT {cols}, count(*) AS n FROM {table} {among} GROUP BY ALL HAVING count(*) > 1)
        """
    ).fetchall()[0]
    if not groups:
        return []
    return [Failure(None, f"unique_key({', '.join(key)})", int(rows), [_plain(k) for k in sample])]


def _plain(value: Any) -> Any:
    """Failure cases as JSON-friendly values for asset-check metadata."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)
