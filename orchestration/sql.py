"""SQL text built from the contracts and settings (never from landed values, which are bound as parameters)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from typing import Any


def sql_literal(value: Any) -> str:
    """A quoted SQL literal: numbers as they are, anything else as a string (for statements that take
    no parameters, such as ATTACH, COPY and COMMENT, and for SQL built from the contracts)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def quoted(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def column_definitions(columns: Iterable[tuple[str, str]]) -> str:
    """The column list of a CREATE TABLE, `"name" TYPE, ...`, from (name, type) pairs."""
    return ", ".join(f"{quoted(name)} {type_}" for name, type_ in columns)


def records(cursor: Any) -> list[Any]:
    """The rows of a query just executed (a DuckDB connection or cursor) as named tuples, each field
    named after its column: rows are read by name, never by position."""
    row = namedtuple("Row", [column[0] for column in cursor.description])
    return [row(*values) for values in cursor.fetchall()]
