"""Files rendered from a single source of truth, committed, and kept in sync by tests (written by
`make render`, orchestration/cli/render.py, with the files the layers above render):

- dbt_project/models/staging/__sources.yml  from sources/contracts.yml
- the contract tables in sources/README.md   from sources/contracts.yml
- the indicator catalog in README.md          from dbt_project/seeds/indicator_catalog_seed.csv
- the settings table in docs/operations.md    from orchestration/settings.py (SETTINGS)
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.contracts.model import SOURCE_FILE, Contracts, dbt_source_name
from orchestration.contracts.rules import describe_rules
from orchestration.contracts.spec import load_contracts
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT, SETTINGS

DBT_SOURCES_FILE = DBT_PROJECT_DIR / "models" / "staging" / "__sources.yml"
SOURCES_README = REPO_ROOT / "sources" / "README.md"
README = REPO_ROOT / "README.md"
CATALOG_SEED = DBT_PROJECT_DIR / "seeds" / "indicator_catalog_seed.csv"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"


def replace_section(document: str, name: str, body: str) -> str:
    """Replace the text between `<!-- name:start ... -->` and `<!-- name:end -->`."""
    start, end = f"<!-- {name}:start", f"<!-- {name}:end -->"
    head, found, rest = document.partition(start)
    if not found:
        raise ValueError(f"no `{start}` marker")
    marker_rest, _, rest = rest.partition("-->")
    _, found_end, tail = rest.partition(end)
    if not found_end:
        raise ValueError(f"no `{end}` marker")
    return f"{head}{start}{marker_rest}-->\n{body}{end}{tail}"


@cache
def indicator_catalog() -> tuple[dict[str, str], ...]:
    """The indicator catalog rows, as maintained in the dbt seed."""
    with open(CATALOG_SEED, encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def provenance(row: dict[str, str]) -> str:
    """A catalog row's origin, and the source of a published one (the synthetic sample's is said
    once, above the table)."""
    source = row["source"].replace("|", r"\|")  # a `|` would end the table cell
    return row["origin"] if row["origin"] == "synthetic" else f"{row['origin']}: {source}"


def render_catalog_table() -> str:
    rows = indicator_catalog()
    lines = ["| indicator_code | unit_measure | frequency | definition | source_feeds | origin |", "|---|---|---|---|---|---|"]
    lines += [f"| `{r['indicator_code']}` | {r['unit_measure']} | {r['frequency']} | {r['definition']} | {r['source_feeds']} | {provenance(r)} |" for r in rows]
    return "\n".join(lines) + "\n"


def render_settings_table() -> str:
    lines = ["| setting | default | changes a run's result | what |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` | {s.documented_default()} | {'yes' if s.changes_result else 'no'} | {s.description} |" for s in SETTINGS]
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    contracts = load_contracts()
    return {
        DBT_SOURCES_FILE: render_dbt_sources(contracts),
        SOURCES_README: replace_section(SOURCES_README.read_text(encoding="utf-8"), "contracts", render_feed_tables(contracts)),
        README: replace_section(README.read_text(encoding="utf-8"), "catalog", render_catalog_table()),
        OPERATIONS: replace_section(OPERATIONS.read_text(encoding="utf-8"), "settings", render_settings_table()),
    }


def render_dbt_sources(contracts: Contracts) -> str:
    """The dbt sources file, rendered from the contracts (committed; a test keeps it in sync)."""
    sources: dict[str, list[dict[str, Any]]] = {}
    for feed in contracts.feeds.values():
        sources.setdefault(dbt_source_name(feed), []).append(
            {
                "name": feed.name,
                "description": f"{feed.title}. {feed.description} Key: {', '.join(feed.key)}. Landed as {', '.join(feed.files)}.",
                "meta": {"dagster": {"asset_key": ["raw", feed.name]}},
                "columns": [{"name": c.name, "description": c.description, "data_type": c.type} for c in feed.raw_columns],
            }
        )
        if feed.is_table and not feed.checks_totals:
            # The national line of a table whose figures do not add up (a percentage, an index) is
            # the publisher's own national figure: a source of its own, published like the rows.
            layout = feed.layout
            sources[dbt_source_name(feed)].append(
                {
                    "name": layout["totals_table"],
                    "description": f"The national line ({layout['national_total_label']}) of the {feed.name} feed's tables: "
                    f"{feed.title}, for the whole country, as published. Key: the {feed.name} key without {layout['name_column']}.",
                    "meta": {"dagster": {"asset_key": ["raw", layout["totals_table"]]}},
                    "columns": [
                        *({"name": c.name, "description": c.description, "data_type": c.type} for c in feed.columns if c.name != layout["name_column"]),
                        {"name": SOURCE_FILE.name, "description": SOURCE_FILE.description, "data_type": SOURCE_FILE.type},
                        {"name": "line", "description": "Line of the national total in its file (the row of its sheet).", "data_type": "BIGINT"},
                    ],
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
            *([f"Published by {feed.publisher}. Licence: {feed.licence}.", ""] if feed.publisher else []),
            f"Files: {', '.join(f'`{f}`' for f in feed.files)}. Key: {', '.join(f'`{k}`' for k in feed.key)}. Loaded into `{feed.raw_table}`.",
            "",
            "| column | type | rules | description |",
            "|---|---|---|---|",
        ]
        out += [f"| `{c.name}` | {c.type} | {describe_rules(contracts, c.rules) or 'required'} | {_cell(c.description)} |" for c in feed.columns]
        out.append("")
    return "\n".join(out)
