"""Reading the load history (`audit.file_loads`): quarantine shares and what a run did; dbt's audit
sources, rendered from it."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import yaml

from orchestration.contracts import Contracts, is_monthly
from orchestration.ingest.commit import AUDIT_DDL, LOADED_FILES_DESCRIPTIONS
from orchestration.text import printable


def quarantine_shares(con: duckdb.DuckDBPyConnection, feed: str, limit: float) -> tuple[list[str], list[str]]:
    """Files whose rows in the warehouse now came with quarantined rows: (over the limit, within it).

    It reads the current version of every file, so a file over the limit keeps failing the check
    until a corrected version lands, not just in the run that loaded it.
    """
    rows = con.execute(
        """
        SELECT source_file, rows_quarantined, rows_read, rows_quarantined / rows_read AS share
        FROM audit.loaded_files
        WHERE feed = ? AND rows_quarantined > 0
        ORDER BY share DESC, source_file
        """,
        [feed],
    ).fetchall()
    over, under = [], []
    for source_file, quarantined, read, share in rows:
        text = f"{source_file}: {share:.1%} of rows quarantined ({quarantined:,} of {read:,}), limit {limit:.1%}"
        (over if share > limit else under).append(text)
    return over, under


@dataclass(frozen=True)
class RunSummary:
    loaded: int
    unchanged: int
    rejected: list[str]
    held: list[str]
    removed: int
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_feed: dict[str, int]
    not_collected: str | None

    @property
    def not_loaded(self) -> list[str]:
        """The landed files whose rows are not in the warehouse as landed, one line each."""
        return [f"  rejected {printable(error)}" for error in self.rejected] + [f"  held {printable(error)}" for error in self.held]

    def lines(self, working_db: str) -> list[str]:
        out = [
            f"Landed files: {self.loaded} loaded, {self.unchanged} unchanged, {len(self.rejected)} rejected"
            + (f", {len(self.held)} held back" if self.held else "")
            + (f", {self.removed} removed" if self.removed else "")
            + f"; {self.rows_loaded:,} rows loaded, {self.rows_quarantined:,} quarantined."
        ]
        out += self.not_loaded
        if self.rows_quarantined:
            feeds = ", ".join(f"quarantine.{feed} ({n:,})" for feed, n in self.quarantined_by_feed.items())
            out.append(f"  quarantined rows, with line, rule and reason: {feeds}")
        if self.rejected or self.held or self.rows_quarantined:
            out.append(f"  every file, load and quarantined row of this run: `make audit` (reads {working_db})")
        if self.not_collected:
            out.append(printable(self.not_collected))
        return out


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSummary:
    counts = dict(con.execute("SELECT status, count(*) FROM audit.file_loads WHERE run_id = ? GROUP BY ALL", [run_id]).fetchall())
    rejected, held = (
        [r[0] for r in con.execute("SELECT error FROM audit.file_loads WHERE run_id = ? AND status = ? ORDER BY source_file", [run_id, status]).fetchall()]
        for status in ("rejected", "held")
    )
    by_feed = dict(
        con.execute(
            "SELECT feed, sum(rows_quarantined) FROM audit.file_loads WHERE run_id = ? GROUP BY ALL HAVING sum(rows_quarantined) > 0 ORDER BY feed",
            [run_id],
        ).fetchall()
    )
    rows_loaded = con.execute("SELECT coalesce(sum(rows_loaded), 0) FROM audit.file_loads WHERE run_id = ?", [run_id]).fetchone()[0]
    return RunSummary(
        loaded=counts.get("loaded", 0),
        unchanged=counts.get("unchanged", 0),
        rejected=rejected,
        held=held,
        removed=counts.get("removed", 0),
        rows_loaded=int(rows_loaded),
        rows_quarantined=int(sum(by_feed.values())),
        quarantined_by_feed={k: int(v) for k, v in by_feed.items()},
        not_collected=_completeness_if_built(con),
    )


def _completeness_if_built(con: duckdb.DuckDBPyConnection) -> str | None:
    """The completeness line, once a run has built marts.feed_completeness (a failed first run has not)."""
    try:
        return completeness_line(con)
    except duckdb.CatalogException:
        return None


def missing_inputs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the monthly feeds should have landed and did not, one text per feed and month
    (`marts.feed_completeness`, in the working or the published database)."""
    rows = con.execute(
        """
        SELECT feed, strftime(input_month, '%Y-%m'), list(platform ORDER BY platform) FILTER (platform <> '_Z')
        FROM marts.feed_completeness WHERE completeness = 'missing'
        GROUP BY ALL ORDER BY feed, 2
        """
    ).fetchall()
    return [f"{feed} {month}" + (f" ({', '.join(platforms)})" if platforms else "") for feed, month, platforms in rows]


def completeness_line(con: duckdb.DuckDBPyConnection) -> str | None:
    """One line on the inputs not collected, for the run summary and the report; None when complete."""
    missing = missing_inputs(con)
    if not missing:
        return None
    return f"Not collected: {'; '.join(missing)}. Every indicator built from them is published as missing (obs_value NULL, obs_status L) until the files land."


AUDIT_SOURCES_HEADER = """\
# Rendered by `make render` from the audit's DDL (orchestration/ingest/commit.py) and the monthly
# feeds of sources/contracts.yml; do not edit.
#
# What has landed, as the raw assets record it (audit.loaded_files: one row per file version whose
# rows are loaded now). Completeness is judged on files, not rows: a landed file with no rows is
# a real zero, a file that never landed is not. Each monthly feed's part of the audit is a source
# of its own (the same view; its Dagster asset is written by that feed's raw asset alone), so a
# model judging one feed's completeness depends on that feed only, not on every feed loaded.
"""


def render_audit_sources(contracts: Contracts) -> str:
    """dbt's audit sources: audit.loaded_files, and each monthly feed's part of it, with the columns
    the models read (names and types from the DDL that creates them)."""
    with duckdb.connect() as con:
        con.execute(AUDIT_DDL)
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'audit' AND table_name = 'loaded_files'").fetchall())
    columns = [{"name": name, "description": description, "data_type": types[name]} for name, description in LOADED_FILES_DESCRIPTIONS.items()]
    tables = [
        {
            "name": "loaded_files",
            "description": "Every landed file whose rows are loaded now, with the fields its path names.",
            "meta": {"dagster": {"asset_key": ["audit", "loaded_files"]}},
            "columns": columns,
        }
    ]
    tables += [
        {
            "name": f"{feed.name}_files",
            "identifier": "loaded_files",
            "description": f"The rows of audit.loaded_files of the {feed.name} feed (feed = '{feed.name}'), written by its raw asset.",
            "meta": {"dagster": {"asset_key": ["audit", f"{feed.name}_files"]}},
            "columns": columns,
        }
        for feed in contracts.feeds.values()
        if is_monthly(feed)
    ]
    document = {"version": 2, "sources": [{"name": "audit", "description": "The warehouse's load audit, written by every raw asset.", "schema": "audit", "tables": tables}]}
    return AUDIT_SOURCES_HEADER + yaml.dump(document, Dumper=_NoAliases, sort_keys=False, width=100, allow_unicode=True)


class _NoAliases(yaml.SafeDumper):
    """Each table's columns written out in full (the same list, not a YAML alias of it)."""

    def ignore_aliases(self, data: object) -> bool:
        return True
