"""Files rendered from a single source of truth, committed, and kept in sync by tests.

    python -m orchestration.docs     (make render)

- dbt_project/models/staging/__sources.yml  from sources/contracts.yml
- the contract tables in sources/README.md   from sources/contracts.yml
- the indicator catalog in README.md          from dbt_project/seeds/indicator_catalog_seed.csv
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from orchestration.contracts import load_contracts, render_dbt_sources, render_feed_tables
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT

DBT_SOURCES_FILE = DBT_PROJECT_DIR / "models" / "staging" / "__sources.yml"
SOURCES_README = REPO_ROOT / "sources" / "README.md"
README = REPO_ROOT / "README.md"
CATALOG_SEED = DBT_PROJECT_DIR / "seeds" / "indicator_catalog_seed.csv"


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
    lines += [
        f"| `{r['indicator_code']}` | {r['unit_measure']} | {r['frequency']} | {r['definition']} | {r['source_feeds']} | {provenance(r)} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    contracts = load_contracts()
    return {
        DBT_SOURCES_FILE: render_dbt_sources(contracts),
        SOURCES_README: replace_section(SOURCES_README.read_text(encoding="utf-8"), "contracts", render_feed_tables(contracts)),
        README: replace_section(README.read_text(encoding="utf-8"), "catalog", render_catalog_table()),
    }


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
