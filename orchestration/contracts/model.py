"""The contract model: a feed's files, columns, types, key and rules, as the code reads them.

Parsed from `sources/contracts.yml` by `orchestration.contracts.spec`; the DuckDB readers, the
Pandera schemas, the dbt sources file and the tests all read this model, nothing restates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ColumnContract:
    name: str
    type: str
    description: str
    rules: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return bool(self.rules.get("required", True))


# Every raw table carries the landed file each row came from, after the contract's columns.
SOURCE_FILE = ColumnContract("source_file", "VARCHAR", "Landed file the row came from, relative to the sources dir.")


# The formats whose files are formatted tables, read by a layout.
TABLE_FORMATS = ("ministry_table", "official_table")


@dataclass(frozen=True)
class FeedContract:
    name: str
    title: str
    description: str
    files: tuple[str, ...]
    format: str
    key: tuple[str, ...]
    columns: tuple[ColumnContract, ...]
    path_pattern: str | None = None
    layout: dict[str, Any] = field(default_factory=dict)
    # Who published the data and under what terms (the published tables; the sample has none).
    publisher: str | None = None
    licence: str | None = None

    @property
    def is_table(self) -> bool:
        """A formatted table (ministry or official): lines of labelled cells, not one row per line."""
        return self.format in TABLE_FORMATS

    @property
    def checks_totals(self) -> bool:
        """A table whose national total line is checked against the sum of its rows: only where adding
        makes sense (a percentage's or an index's national figure is the publisher's own)."""
        return self.is_table and bool(self.layout.get("additive", True))

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def raw_columns(self) -> tuple[ColumnContract, ...]:
        """The columns of the raw table: the contract's, then the row's source file."""
        return (*self.columns, SOURCE_FILE)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnContract:
        return next(c for c in self.columns if c.name == name)

    def duckdb_types(self) -> dict[str, str]:
        """Column → DuckDB type, as `read_csv(columns=...)` takes it."""
        return {c.name: c.type for c in self.columns}

    @property
    def raw_column_types(self) -> list[tuple[str, str]]:
        """(name, type) of the raw table's columns, as `sql.column_definitions` takes them."""
        return [(c.name, c.type) for c in self.raw_columns]

    def landed_files(self, sources_dir: Path) -> list[Path]:
        """The feed's paths under the sources dir as landed (a link under its own name), sorted,
        but none that leads outside it (`links_out`). A path that is not a regular file (a
        directory, a FIFO, a dangling link, a loop) is listed too, so that a load rejects it by name."""
        return self._landed(sources_dir)[0]

    def links_out(self, sources_dir: Path) -> list[Path]:
        """The feed's paths under the sources dir that a symbolic link (the file's, or a folder's on
        its way) leads outside it: never read, reported by name."""
        return self._landed(sources_dir)[1]

    def _landed(self, sources_dir: Path) -> tuple[list[Path], list[Path]]:
        root = Path(os.path.realpath(sources_dir))
        inside: set[Path] = set()
        outside: set[Path] = set()
        for pattern in self.files:
            for path in sources_dir.glob(pattern):
                # realpath, not resolve(): a symlink loop is listed (and rejected), not raised.
                (inside if Path(os.path.realpath(path)).is_relative_to(root) else outside).add(path)
        return sorted(inside), sorted(outside)

    def path_fields(self, relative_path: str) -> dict[str, str]:
        """Fields encoded in a landed file's path (e.g. its month), per `path_pattern`."""
        if not self.path_pattern:
            return {}
        match = re.fullmatch(self.path_pattern, relative_path)
        if match is None:
            raise ValueError(f"{relative_path}: file name does not follow the {self.name} feed's pattern {self.path_pattern!r}")
        return match.groupdict()


@dataclass(frozen=True)
class Contracts:
    code_lists: dict[str, tuple[str, ...]]
    feeds: dict[str, FeedContract]

    # Rules come from a contract column or a dbt model's `meta.rules`: one vocabulary, one reading.
    def accepted_values(self, rules: Mapping[str, Any]) -> tuple[str, ...] | None:
        values = rules.get("accepted_values")
        if values is None:
            return None
        return self.code_lists[values] if isinstance(values, str) else tuple(values)

    def version(self, feed: FeedContract) -> str:
        """A hash of what the feed's rows are judged by: its contract and the code lists its rules
        name. A file loaded under another version is judged again, though its bytes are the same."""
        named = sorted({values for c in feed.columns if isinstance(values := c.rules.get("accepted_values"), str)})
        judged_by = {"feed": asdict(feed), "code_lists": {name: self.code_lists[name] for name in named}}
        return hashlib.sha256(json.dumps(judged_by, sort_keys=True, default=str).encode()).hexdigest()

    def reference(self, rules: Mapping[str, Any]) -> tuple[FeedContract, str] | None:
        """The feed and column a `references: <feed>.<column>` rule points at."""
        target = rules.get("references")
        if target is None:
            return None
        feed, col = target.split(".")
        return self.feeds[feed], col


class ContractError(ValueError):
    """The contracts file does not validate; the message has one line per problem."""


def dbt_source_name(feed: FeedContract) -> str:
    """The dbt source a feed belongs to: the top folder of its files (`reference`, `sales`, ...)."""
    return feed.files[0].split("/")[0]


def is_monthly(feed: FeedContract) -> bool:
    """Feeds whose files are named by month are partitioned by month."""
    return bool(feed.path_pattern) and "(?P<month>" in feed.path_pattern
