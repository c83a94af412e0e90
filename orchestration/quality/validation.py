"""Pandera schemas built from dbt model docs (staging, marts: what each model adds) and from the
contracts (`feed_schema`: the contract's rules as Pandera reads them, which the tests hold what
ingest loaded to; ingest alone enforces them in a run).

Validation runs inside the engine that holds the table (DuckDB, or Spark's session on the Spark engine)
through Pandera's ibis backend: whether a table's rules hold is one aggregate query over it, and only
the failing rows of a rule that does not hold come back to Python, as failure cases. The same schema
reports the same failures on both.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
from ibis.backends import BaseBackend
from ibis.backends.sql.datatypes import DuckDBType

from orchestration.contracts import Contracts, FeedContract
from orchestration.contracts.rules import column_checks, frame_checks, warehouse_table


def _pandera_ibis() -> ModuleType:
    """pandera.ibis, without pyspark. Pandera's top-level import loads pyspark.pandas whenever pyspark
    is installed (to patch pandas' type hints for pandas-on-Spark frames, which no check here reads:
    Spark's tables are checked through ibis), ~1 s of imports a DuckDB run never uses. So pyspark
    reads as missing while Pandera loads, unless a Spark run has imported it already; a later import
    of pyspark is unaffected."""
    if "pyspark" in sys.modules:
        return importlib.import_module("pandera.ibis")
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # importing it raises ImportError, which Pandera takes as "not installed"
    try:
        return importlib.import_module("pandera.ibis")
    finally:
        del sys.modules["pyspark"]


pa = _pandera_ibis()

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


# Where the tables are: an ibis backend (DuckDB's or Spark's, `ibis.pyspark.connect(session)`), or
# a DuckDB connection, read through ibis.
Warehouse = duckdb.DuckDBPyConnection | BaseBackend


def ibis_backend(warehouse: Warehouse) -> BaseBackend:
    return warehouse if isinstance(warehouse, BaseBackend) else ibis.duckdb.from_connection(warehouse)


def column_dtype(type_name: str, backend: BaseBackend) -> dt.DataType:
    """The ibis type of a column declared `type_name` (DuckDB's spelling, as the contracts and the
    ymls give it) as `backend` reports it: Spark stores a TIMESTAMP without DuckDB's precision, so
    a declared type is compared as the engine holding the table would store it."""
    dtype = DuckDBType.from_string(type_name)
    if backend.name == "pyspark":
        from ibis.backends.pyspark.datatypes import PySparkType

        return PySparkType.to_ibis(PySparkType.from_ibis(dtype))
    return dtype


def feed_schema(contracts: Contracts, feed: FeedContract, warehouse: Warehouse, columns: Iterable[str] | None = None) -> pa.DataFrameSchema:
    """The Pandera schema of a feed's contract, over `columns` (default: all of them)."""
    backend = ibis_backend(warehouse)
    wanted = set(columns) if columns is not None else set(feed.column_names)
    pandera_columns = {}
    table_checks = []
    for c in feed.columns:
        if c.name not in wanted:
            continue
        checks = column_checks(contracts, c.rules, backend)
        pandera_columns[c.name] = pa.Column(column_dtype(c.type, backend), checks=checks, nullable=not c.required)
        table_checks += frame_checks(contracts, feed, c, backend)
    key = [k for k in feed.key if k in wanted]
    return pa.DataFrameSchema(pandera_columns, checks=table_checks, name=feed.raw_table, metadata={"key": key})


def dbt_meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `meta` of a dbt node or column from the manifest (under `config` in recent dbt)."""
    return props.get("config", {}).get("meta") or props.get("meta") or {}


def model_schema(node: Mapping[str, Any], contracts: Contracts, warehouse: Warehouse) -> pa.DataFrameSchema:
    """The Pandera schema of a dbt model, from its yml: what the model adds or could break.

    A model whose `meta.feed` names a feed projects that feed's raw table, whose rows ingest
    already held to the contract: its columns are checked for their types only (the contract's,
    or `data_type`), a schema check that scans no row, and only the columns with `meta.rules`
    (those it derives) for those rules. In a model without a feed every column is checked for its
    `meta.rules` (the contract vocabulary) and is required unless `required: false`. Keys are the
    dbt tests in the yml, not checked here.
    """
    backend = ibis_backend(warehouse)
    meta = dbt_meta(node)
    projected = {c.name: c.type for c in contracts.feeds[meta["feed"]].columns} if "feed" in meta else None
    columns = {}
    for name, spec in (node.get("columns") or {}).items():
        rules = dbt_meta(spec).get("rules") or {}
        type_name = spec.get("data_type") or (projected or {}).get(name)
        dtype = column_dtype(type_name, backend) if type_name else None
        if projected is not None and not rules:
            columns[name] = pa.Column(dtype, nullable=True, required=True)
            continue
        checks = column_checks(contracts, rules, backend)
        columns[name] = pa.Column(dtype, checks=checks, nullable=not rules.get("required", True), required=True)
    return pa.DataFrameSchema(columns, name=f"{node['schema']}.{node['alias'] or node['name']}")


@dataclass(frozen=True)
class RowRule:
    """One of a schema's checks that reads rows: a table check (`column` None), a column's check, or
    a column's not-null (`check` None). A column's type reads no row."""

    column: str | None
    check: pa.Check | None


def row_rules(schema: pa.DataFrameSchema) -> list[RowRule]:
    rules = [RowRule(None, check) for check in schema.checks]
    for name, column in schema.columns.items():
        rules += [RowRule(name, check) for check in column.checks]
        if not column.nullable:
            rules.append(RowRule(name, None))
    return rules


def validate(warehouse: Warehouse, table: str, schema: pa.DataFrameSchema, where: Callable[[ibis.Table], ibis.Value] | None = None) -> ValidationReport:
    """Validate a warehouse table in place (only the rows `where` selects, if given: a load's files,
    a run's months); failing rows come back as failure cases. Duplicate keys are looked for among
    all the table's rows that share a key with a checked row.

    Whether each rule holds is one query for all of them (`folded`); Pandera then validates the
    schema with only the rules that do not hold, for their failure cases, and the column types,
    which read no row. If that query cannot be built or run, Pandera runs each rule by itself (and
    reports the one that errs)."""
    backend = ibis_backend(warehouse)
    whole = warehouse_table(backend, table)
    relation = whole.filter(where(whole)) if where is not None else whole
    # Pandera's ibis backend reports duplicate keys as an unevaluated expression, so the key
    # (schema metadata) is checked here instead, by one aggregate that returns counts and a sample of the keys.
    key = (schema.metadata or {}).get("key") or []
    failures = _duplicate_keys(whole, key, relation if where is not None else None) if key else []
    rules = row_rules(schema)
    try:
        rows, broken = _broken(relation, rules)
    except Exception:  # noqa: BLE001  # then Pandera runs each rule by itself, and reports the one that errs
        rows, broken = relation.count().execute(), rules
    if rows > 0:  # Pandera's ibis backend reports the checks of an empty relation as failed
        failures += _pandera_failures(_only(schema, broken), relation)
    return ValidationReport(table, rows, failures)


def folded(relation: ibis.Table, rules: list[RowRule]) -> ibis.Table:
    """One row: the relation's `rows`, and for each rule `r<i>` whether every row passes it, as
    Pandera's check backend computes it (a NULL-passing column check, a table check's rows)."""
    passes = {}
    for i, rule in enumerate(rules):
        if rule.check is None:
            value = relation[rule.column]
            missing = value.isnull()
            if value.type().is_floating() and relation.get_backend().has_operation(ops.IsNan):
                missing |= value.isnan()  # Pandera's not-null takes NaN for NULL
            passes[f"r{i}"] = (~missing).all()
        else:
            passes[f"r{i}"] = rule.check(relation, rule.column).check_passed
    return relation.aggregate(rows=relation.count(), **passes)


def _broken(relation: ibis.Table, rules: list[RowRule]) -> tuple[int, list[RowRule]]:
    """The relation's row count and the rules that do not hold on it, in one query."""
    (row,) = folded(relation, rules).to_pyarrow().to_pylist()
    return row["rows"], [rule for i, rule in enumerate(rules) if not row[f"r{i}"]]


def _only(schema: pa.DataFrameSchema, broken: list[RowRule]) -> pa.DataFrameSchema:
    """`schema` with only the `broken` rules over rows; its columns' types and presence, which read
    no row, all kept."""

    def checks(column: str | None) -> list[pa.Check]:
        return [rule.check for rule in broken if rule.column == column and rule.check is not None]

    not_null = {rule.column for rule in broken if rule.check is None}
    columns = {name: pa.Column(column.dtype, checks=checks(name), nullable=name not in not_null, required=column.required) for name, column in schema.columns.items()}
    return pa.DataFrameSchema(columns, checks=checks(None), name=schema.name)


def _pandera_failures(schema: pa.DataFrameSchema, relation: ibis.Table) -> list[Failure]:
    try:
        schema.validate(relation, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        by_check: dict[tuple[str | None, str], list[Any]] = {}
        for context, check, named, case in zip(cases["schema_context"], cases["check"], cases["column"], cases["failure_case"], strict=True):
            # Column checks report {column: value} (two columns can fail a check of the same name);
            # schema checks report whole rows or names.
            column = (next(iter(case)) if isinstance(case, dict) else str(named)) if context == "Column" else None
            by_check.setdefault((column, str(check)), []).append(case)
        failures = []
        for (column, check), values in by_check.items():
            count = len(values)
            if isinstance(values[0], ibis.Table):
                # A required column's failing rows come back unevaluated: counted and sampled here.
                values, count = values[0].limit(SAMPLE_SIZE).to_pyarrow().to_pylist(), values[0].count().execute()
            failures.append(Failure(column=column, check=check, count=int(count), sample=_first([_plain(v) for v in values])))
        return failures
    return []


def _duplicate_keys(table: ibis.Table, key: list[str], scope: ibis.Table | None) -> list[Failure]:
    """Keys held by more than one row of `table` (only keys found in `scope`, if given), with the
    first of them in key order: one query."""
    rows = table.semi_join(scope, key) if scope is not None else table
    groups = rows.group_by(key).aggregate(n=ibis._.count()).filter(ibis._.n > 1)
    found = groups.mutate(rows=groups.n.sum().over(ibis.window())).order_by(key).limit(SAMPLE_SIZE).to_pyarrow().to_pylist()
    if not found:
        return []
    sample = [{k: _plain(row[k]) for k in key} for row in found]
    return [Failure(None, f"unique_key({', '.join(key)})", int(found[0]["rows"]), sample)]


def _first(values: list[Any]) -> list[Any]:
    """The first failure cases in a stable order: engines return failing rows in any order (Spark's
    vary from run to run)."""
    return sorted(values, key=lambda v: json.dumps(v, sort_keys=True))[:SAMPLE_SIZE]


def _plain(value: Any) -> Any:
    """Failure cases as JSON-friendly values for asset-check metadata."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)
