"""A feed's load: which landed files, what happened to each, then one commit."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.contracts import FeedContract, load_contracts
from orchestration.ingest.commit import FeedLoad, FileLoad, commit, prepare_tables
from orchestration.ingest.formats import file_problem
from orchestration.ingest.landing import LandedFile, file_month, landed_in_scope, sha256_file
from orchestration.ingest.ministry_table import stage_ministry_table, totals_columns
from orchestration.ingest.official_table import stage_official_table
from orchestration.ingest.staged import STAGED, FeedError
from orchestration.ingest.tabular import stage_tabular

# The reader of each format a contract can name: it stages the rows of the files it is given and
# returns the files it could not read after all, with the reason.
READERS = {"csv": stage_tabular, "ministry_table": stage_ministry_table, "official_table": stage_official_table}


def load_feed(
    con: duckdb.DuckDBPyConnection,
    feed: FeedContract,
    sources_dir: Path,
    run_id: str,
    months: set[str] | None = None,
) -> FeedLoad:
    """Load a feed's new and changed files (of `months`, or all), quarantining bad rows."""
    contracts = load_contracts()
    prepare_tables(con, feed)
    in_scope, misnamed = landed_in_scope(feed, sources_dir, months)
    if months is None and not in_scope and not misnamed:
        raise FeedError(f"{feed.name}: no files landed (looked for {', '.join(feed.files)} under {sources_dir})")
    previous = dict(con.execute("SELECT source_file, sha256 FROM audit.loaded_files WHERE feed = ?", [feed.name]).fetchall())
    outcomes = {rel: _rejected(LandedFile(path, rel, sha256_file(path), None), previous, reason) for rel, (path, reason) in misnamed.items()}
    candidates = []
    for path, rel in in_scope:
        landed = LandedFile(path, rel, sha256_file(path), file_month(feed, rel))
        if previous.get(rel) == landed.sha256:
            outcomes[rel] = FileLoad(rel, "unchanged", landed.sha256, landed.sha256)
        elif (problem := file_problem(feed, landed, con)) is not None:
            outcomes[rel] = _rejected(landed, previous, problem)
        else:
            candidates.append(landed)
    landed_names = {rel for _, rel in in_scope} | set(misnamed)
    removed = [
        rel for rel in previous
        if rel not in landed_names and (months is None or file_month(feed, rel) in months)
    ]
    for rel in removed:
        outcomes[rel] = FileLoad(rel, "removed", None, previous[rel])

    staged = STAGED
    staged.create(
        con, feed, [f.source_file for f in candidates] + removed, [f.sha256 for f in candidates] + [None] * len(removed),
        totals_columns(feed) if feed.is_table else [],
    )
    if candidates:
        unreadable = READERS[feed.format](con, contracts, feed, candidates, staged)
        staged.drop_files(con, unreadable)
        for landed in candidates:
            if landed.source_file in unreadable:
                outcomes[landed.source_file] = _rejected(landed, previous, unreadable[landed.source_file])
        candidates = [f for f in candidates if f.source_file not in unreadable]
    return commit(con, feed, candidates, removed, previous, outcomes, staged, run_id)


def _rejected(landed: LandedFile, previous: dict[str, str], problem: str) -> FileLoad:
    rel = landed.source_file
    kept = "; the rows of its previous version stay loaded" if rel in previous else ""
    return FileLoad(rel, "rejected", landed.sha256, previous.get(rel), error=f"{rel}: {problem}{kept}")
