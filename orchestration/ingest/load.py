"""A feed's load: which landed files, what happened to each, then one commit."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import duckdb

from orchestration.contracts import FeedContract, load_contracts
from orchestration.ingest.commit import FeedLoad, FileLoad, commit, prepare_tables
from orchestration.ingest.formats import file_format, file_problem
from orchestration.ingest.landing import LandedFile, file_month, landed_in_scope, link_out, relative, sha256_file
from orchestration.ingest.ministry_table import stage_ministry_table, totals_columns
from orchestration.ingest.official_table import stage_official_table
from orchestration.ingest.records import read_back
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
    confirmed: frozenset[str] = frozenset(),
) -> FeedLoad:
    """Load a feed's new and changed files (of `months`, or all), quarantining bad rows; a file
    whose feed's contract changed since it was loaded is loaded again. A change
    that would take most of a file's rows away is held back (`held`) unless its source file is
    among `confirmed`."""
    contracts = load_contracts()
    prepare_tables(con, feed)
    in_scope, misnamed = landed_in_scope(feed, sources_dir, months)
    links_out = [(path, rel) for path in feed.links_out(sources_dir) if _in_months(feed, rel := relative(path, sources_dir), months)]
    loaded_now = con.execute("SELECT source_file, sha256, rows_read, contract_sha256 FROM audit.loaded_files WHERE feed = ?", [feed.name]).fetchall()
    loaded = {rel: (sha, rows) for rel, sha, rows, _ in loaded_now}
    contract_version = contracts.version(feed)
    judged_now = {rel for rel, _, _, version in loaded_now if version == contract_version}
    # A feed whose files are all gone under a link is held below, not an error.
    if months is None and not in_scope and not misnamed and not links_out and not any(_link_on_path(sources_dir, rel) for rel in loaded):
        raise FeedError(f"{feed.name}: no files landed (looked for {', '.join(feed.files)} under {sources_dir})")
    previous = {rel: sha for rel, (sha, _) in loaded.items()}
    outcomes = {rel: _rejected(LandedFile(path, rel, sha256_file(path), None), previous, reason) for rel, (path, reason) in misnamed.items()}
    removed = []
    # A link out of the landing zone is never read; the rows a file loaded before it became one stay.
    for path, rel in links_out:
        why = link_out(path, sources_dir)
        if rel not in loaded:
            outcomes[rel] = _rejected(LandedFile(path, rel, None, None), previous, why)
        elif rel in confirmed:
            removed.append(rel)
        else:
            outcomes[rel] = _held(rel, None, loaded[rel], why)
    candidates = []
    for path, rel in in_scope:
        landed = LandedFile(path, rel, sha256_file(path), file_month(feed, rel))
        if previous.get(rel) == landed.sha256 and rel in judged_now:
            outcomes[rel] = FileLoad(rel, "unchanged", landed.sha256, landed.sha256)
        elif (problem := file_problem(feed, landed, con)) is not None:
            outcomes[rel] = _rejected(landed, previous, problem)
        else:
            candidates.append(landed)
    landed_names = {rel for _, rel in in_scope} | set(misnamed) | {rel for _, rel in links_out}
    for rel in loaded:
        if rel in landed_names or not _in_months(feed, rel, months):
            continue
        # Files gone because a folder on their path became a link are not taken to be removed.
        if (link := _link_on_path(sources_dir, rel)) is not None and rel not in confirmed:
            outcomes[rel] = _held(rel, None, loaded[rel], f"no longer landed: {link}")
        else:
            removed.append(rel)
    for rel in removed:
        outcomes[rel] = FileLoad(rel, "removed", None, previous[rel])

    staged = STAGED
    staged.create(
        con,
        feed,
        [f.source_file for f in candidates] + removed,
        [f.sha256 for f in candidates] + [None] * len(removed),
        totals_columns(feed) if feed.is_table else [],
    )
    if candidates:
        unreadable = READERS[feed.format](con, contracts, feed, candidates, staged)
        read = dict(con.execute(f"SELECT source_file, rows_read FROM {staged.read}").fetchall())
        not_loaded = {rel: _rejected(landed, previous, unreadable[rel]) for landed in candidates if (rel := landed.source_file) in unreadable}
        candidates = [f for f in candidates if f.source_file not in unreadable]
        for rel, problem in _read_back(feed, candidates, read).items():
            not_loaded[rel] = _rejected(next(f for f in candidates if f.source_file == rel), previous, problem)
        for landed in candidates:
            rel, rows = landed.source_file, read.get(landed.source_file, 0)
            if rel not in not_loaded and rel in loaded and rel not in confirmed and rows < loaded[rel][1] * SHRINK:
                not_loaded[rel] = _held(rel, landed.sha256, loaded[rel], f"the version landed now has {rows:,} rows, fewer than {SHRINK:.0%} of the {loaded[rel][1]:,} loaded")
        staged.drop_files(con, dict.fromkeys(not_loaded, ""))
        outcomes.update(not_loaded)
        candidates = [f for f in candidates if f.source_file not in not_loaded]
    return commit(con, feed, candidates, removed, previous, outcomes, staged, run_id, contract_version)


# A resend with fewer rows than this share of the version loaded is held until confirmed: a header
# left alone, or a truncated export, must not replace a month's rows without a word.
SHRINK = 0.5


def _in_months(feed: FeedContract, rel: str, months: set[str] | None) -> bool:
    try:
        return months is None or file_month(feed, rel) in months
    except ValueError:  # a name outside the feed's pattern names no month
        return months is None


def _link_on_path(sources_dir: Path, rel: str) -> str | None:
    """The folder on a source file's path that is a symbolic link now, and where it leads."""
    step = sources_dir
    for part in Path(rel).parts[:-1]:
        step = step / part
        if step.is_symlink():
            return f"{relative(step, sources_dir)} is a symbolic link to {os.readlink(step)}"
    return None


def _held(rel: str, sha256: str | None, loaded: tuple[str, int], why: str) -> FileLoad:
    return FileLoad(
        rel,
        "held",
        sha256,
        loaded[0],
        error=f"{rel}: {why}; held back, the {loaded[1]:,} rows loaded from it stay. If the change is right, confirm it: make run CONFIRM={shlex.quote(rel)}",
    )


def _read_back(feed: FeedContract, files: list[LandedFile], read: dict[str, int]) -> dict[str, str]:
    """The files whose rows cannot be loaded as `read` (rows per file), with the reason: rewritten
    while they were read (their hash changed), or a CSV whose records, counted from its bytes, are
    not the rows the reader returned plus the lines it rejected."""
    problems = {}
    for landed in files:
        name = file_format(landed.path).name if feed.format == "csv" else None
        back = read_back(landed.path, {"CSV": "csv", "gzip CSV": "gzip"}.get(name))
        rows = read.get(landed.source_file, 0)
        if back.sha256 != landed.sha256:
            problems[landed.source_file] = "changed while being read (its SHA-256 differs after the read); it will be read again next run"
        elif back.problem:
            problems[landed.source_file] = back.problem
        elif back.unclosed_line is not None:
            problems[landed.source_file] = (
                f'line {back.unclosed_line} opens a quoted field (`"`) that is never closed, so the rest of the file would be '
                f"one field; the CSV reader returned {rows:,} rows and stopped there. Close or remove that quote and land the file again"
            )
        elif back.records is not None and back.records - 1 != rows:
            problems[landed.source_file] = (
                f"holds {back.records - 1:,} rows by the contract's CSV quoting, but the CSV reader returned {rows:,} "
                "(loaded or quarantined): nothing of it is loaded rather than a part"
            )
    return problems


def _rejected(landed: LandedFile, previous: dict[str, str], problem: str) -> FileLoad:
    rel = landed.source_file
    kept = "; the rows of its previous version stay loaded" if rel in previous else ""
    return FileLoad(rel, "rejected", landed.sha256, previous.get(rel), error=f"{rel}: {problem}{kept}")
