"""Every file rendered from a single source of truth, committed and kept in sync by tests:

    python -m orchestration.cli.render     (make render)

the files `orchestration.contracts.rendering` renders from the contracts and the indicator catalog,
and dbt's audit sources (dbt_project/models/staging/_audit__sources.yml), from the audit's DDL and
the contracts' monthly feeds.
"""

from __future__ import annotations

from pathlib import Path

from orchestration.contracts import load_contracts, rendering
from orchestration.ingest.audit import render_audit_sources
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT

AUDIT_SOURCES_FILE = DBT_PROJECT_DIR / "models" / "staging" / "_audit__sources.yml"


def rendered() -> dict[Path, str]:
    return {**rendering.rendered(), AUDIT_SOURCES_FILE: render_audit_sources(load_contracts())}


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
