"""Feed contracts, loaded once from `sources/contracts.yml`.

The contract of a feed (its files, columns, types, key and rules) drives the DuckDB readers,
the Pandera schemas, the dbt sources file and the tests; nothing else restates it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import CONTRACTS_FILE


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

    def landed_files(self, sources_dir: Path) -> list[Path]:
        """The feed's files under the sources dir, sorted, never following a path outside it."""
        root = sources_dir.resolve()
        found: set[Path] = set()
        for pattern in self.files:
            for path in sources_dir.glob(pattern):
                resolved = path.resolve()
                if path.is_file() and resolved.is_relative_to(root):
                    found.add(resolved)
        return sorted(found)

    def path_fields(self, relative_path: str) -> dict[str, str]:
        """Fields encoded in a landed file's path (e.g. its month), per `path_pattern`."""
        if not self.path_pattern:
            return {}
        match = re.fullmatch(self.path_pattern, relative_path)
        if match is None:
            raise ValueError(
                f"{relative_path}: file name does not follow the {self.name} feed's "
                f"pattern {self.path_pattern!r}"
            )
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

    def reference(self, rules: Mapping[str, Any]) -> tuple[FeedContract, str] | None:
        """The feed and column a `references: <feed>.<column>` rule points at."""
        target = rules.get("references")
        if target is None:
            return None
        feed, col = target.split(".")
        return self.feeds[feed], col


def _parse(document: dict[str, Any]) -> Contracts:
    feeds = {}
    for name, spec in document["feeds"].items():
        feeds[name] = FeedContract(
            name=name,
            title=spec["title"],
            description=" ".join(spec["description"].split()),
            files=tuple(spec["files"]),
            format=spec["format"],
            key=tuple(spec["key"]),
            columns=tuple(
                ColumnContract(
                    name=c["name"],
                    type=c["type"],
                    description=c["description"],
                    rules=dict(c.get("rules") or {}),
                )
                for c in spec["columns"]
            ),
            path_pattern=spec.get("path_pattern"),
            layout=dict(spec.get("layout") or {}),
        )
    contracts = Contracts(
        code_lists={k: tuple(v) for k, v in document["code_lists"].items()}, feeds=feeds
    )
    _check_consistency(contracts)
    return contracts


def _check_consistency(contracts: Contracts) -> None:
    known_rules = {"required", "min", "max", "accepted_values", "pattern", "references", "in_file_month", "from_path"}
    for feed in contracts.feeds.values():
        names = feed.column_names
        missing_key = set(feed.key) - set(names)
        if missing_key:
            raise ValueError(f"contract {feed.name}: key columns {sorted(missing_key)} are not columns")
        for column in feed.columns:
            unknown = set(column.rules) - known_rules
            if unknown:
                raise ValueError(f"contract {feed.name}.{column.name}: unknown rules {sorted(unknown)}")
            values = column.rules.get("accepted_values")
            if isinstance(values, str) and values not in contracts.code_lists:
                raise ValueError(f"contract {feed.name}.{column.name}: unknown code list {values!r}")
            if column.rules.get("in_file_month") and not feed.path_pattern:
                raise ValueError(f"contract {feed.name}.{column.name}: in_file_month needs a path_pattern")
            ref = column.rules.get("references")
            if ref is not None:
                ref_feed, _, ref_col = ref.partition(".")
                if ref_feed not in contracts.feeds or ref_col not in contracts.feeds[ref_feed].column_names:
                    raise ValueError(f"contract {feed.name}.{column.name}: unknown reference {ref!r}")


@cache
def load_contracts(path: Path = CONTRACTS_FILE) -> Contracts:
    return _parse(yaml.safe_load(path.read_text(encoding="utf-8")))


def dbt_source_name(feed: FeedContract) -> str:
    """The dbt source a feed belongs to: the top folder of its files (`reference`, `sales`, ...)."""
    return feed.files[0].split("/")[0]


def render_dbt_sources(contracts: Contracts) -> str:
    """The dbt sources file, rendered from the contracts (committed; a test keeps it in sync)."""
    sources: dict[str, list[dict[str, Any]]] = {}
    for feed in contracts.feeds.values():
        sources.setdefault(dbt_source_name(feed), []).append(
            {
                "name": feed.name,
                "description": f"{feed.title}. {feed.description} Key: {', '.join(feed.key)}. "
                f"Landed as {', '.join(feed.files)}.",
                "meta": {"dagster": {"asset_key": ["raw", feed.name]}},
                "columns": [{"name": c.name, "description": c.description, "data_type": c.type} for c in feed.raw_columns],
            }
        )
    document = {
        "version": 2,
        "sources": [
            {
                "name": name,
                "description": f"Landed {name} feed(s), loaded by the `raw/*` Dagster assets.",
                "schema": "raw",
                "tables": tables,
            }
            for name, tables in sources.items()
        ],
    }
    header = "# Rendered from sources/contracts.yml by `make render`; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)


def _describe_rules(contracts: Contracts, column: ColumnContract) -> str:
    rules = []
    if not column.required:
        rules.append("may be empty")
    if "min" in column.rules:
        rules.append(f"≥ {column.rules['min']}")
    if "max" in column.rules:
        rules.append(f"≤ {column.rules['max']}")
    if (values := contracts.accepted_values(column.rules)) is not None:
        rules.append("one of " + ", ".join(f"`{v}`" for v in values))
    if "pattern" in column.rules:
        rules.append(f"matches `{column.rules['pattern']}`")
    if "references" in column.rules:
        rules.append(f"exists in `{column.rules['references']}`")
    if column.rules.get("in_file_month"):
        rules.append("inside the file's month")
    return "; ".join(rules)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_feed_tables(contracts: Contracts) -> str:
    """Markdown tables of every contract, for sources/README.md."""
    out = []
    for feed in contracts.feeds.values():
        out += [
            f"### `{feed.name}`: {feed.title}",
            "",
            f"{feed.description}",
            "",
            f"Files: {', '.join(f'`{f}`' for f in feed.files)}. Key: {', '.join(f'`{k}`' for k in feed.key)}. "
            f"Loaded into `{feed.raw_table}`.",
            "",
            "| column | type | rules | description |",
            "|---|---|---|---|",
        ]
        out += [f"| `{c.name}` | {c.type} | {_describe_rules(contracts, c) or 'required'} | {_cell(c.description)} |" for c in feed.columns]
        out.append("")
    return "\n".join(out)

