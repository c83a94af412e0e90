"""The engine a run's dbt project runs on, and the hooks where a run differs by engine: after a raw
load, around a dbt step, where a model's rows are validated, what the releases need. The embedded
DuckDB's are here: it builds the models in the working database, so most hooks have nothing to do."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import duckdb
    from ibis.backends import BaseBackend

    from orchestration.contracts import FeedContract
    from orchestration.ingest.commit import FeedLoad

# A column of a model's table: table, column, type, description (None: the table holds none).
Column = tuple[str, str, str, str | None]


class ModelTable(NamedTuple):
    """A model's table as its yml declares it: the columns in order and their descriptions (the
    table's under None)."""

    schema: str
    name: str
    columns: list[str]
    comments: dict[str | None, str]


# What opens the working database (WarehouseResource.connect), read-only on `read_only=True`.
Connect = Callable[..., AbstractContextManager["duckdb.DuckDBPyConnection"]]


class Engine(ABC):
    """Where dbt builds the models. Publishing, the releases and BI tools read the working database
    (DuckDB) on every engine; a hook does nothing where the engine needs nothing of it."""

    # The engine's name: also dbt's target in dbt_project/profiles.yml.
    name: str

    @property
    def releases(self) -> Engine:
        """The engine the releases are built and checked on: DuckDB on every engine, beside the history."""
        return DuckDBEngine()

    def after_load(self, con: duckdb.DuckDBPyConnection, feed: FeedContract, load: FeedLoad) -> dict[str, str]:
        """After a feed's load was committed to the working database: whatever the engine needs of
        it, and what it did, as the raw asset's metadata."""
        return {}

    def before_dbt(self) -> None:  # noqa: B027 (a hook, with nothing to do by default)
        """Before a dbt step on this engine."""

    def after_dbt(self, connect: Connect, marts: Iterable[ModelTable]) -> list[tuple[str, int]]:
        """After a successful dbt step: the marts it built where publishing and the releases read
        them (the working database, opened with `connect`), as (mart, rows) of each one copied there."""
        return []

    @abstractmethod
    def model_columns(self, con: duckdb.DuckDBPyConnection, tables: Iterable[tuple[str, str]]) -> list[Column]:
        """The columns of these (schema, table)s that exist, from the engine's catalog (no table scan)."""

    def relation_columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, str]]]:
        """The columns of every relation the models read and build, by dbt relation name, when the
        working database holds them: what a model's column lineage is resolved against. Empty here."""
        return {}

    def where_it_ran(self) -> dict[str, str]:
        """Where a step's work ran, for its models' metadata (nothing to say of the run's own process)."""
        return {}

    def release_inputs(self, views: list[str]) -> list[str]:
        """Of the staging views the releases read, those to build in the working database before
        them (views this engine built elsewhere)."""
        return []

    @abstractmethod
    def models_backend(self, connect: Connect) -> AbstractContextManager[BaseBackend]:
        """The engine holding the models' tables, through ibis, for Pandera (`connect`: the working
        database's connections)."""


class DuckDBEngine(Engine):
    """The embedded DuckDB: dbt builds the models in the working database itself."""

    name = "duckdb"

    def model_columns(self, con: duckdb.DuckDBPyConnection, tables: Iterable[tuple[str, str]]) -> list[Column]:
        names = [f"{schema}.{table}" for schema, table in tables]
        return con.execute(
            "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
            "WHERE list_contains($names, schema_name || '.' || table_name) ORDER BY table_name, column_index",
            {"names": names},
        ).fetchall()

    def relation_columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, str]]]:
        """Every table's and view's columns in the working database, by dbt relation name
        ("working"."marts"."onboarding_rate"): what sqlglot resolves a model's SQL against."""
        relations: dict[str, dict[str, dict[str, str]]] = {}
        for schema, table, column, data_type in con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = current_database()"
        ).fetchall():
            relations.setdefault(f'"working"."{schema}"."{table}"', {})[column] = {"data_type": data_type}
        return relations

    def models_backend(self, connect: Connect) -> AbstractContextManager[BaseBackend]:
        return _duckdb_backend(connect)


@contextmanager
def _duckdb_backend(connect: Connect) -> Iterator[BaseBackend]:
    import ibis

    with connect(read_only=True) as con:
        yield ibis.duckdb.from_connection(con)
