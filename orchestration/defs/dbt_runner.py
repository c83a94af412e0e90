"""dbt Core run inside the Dagster process, with the `cli(...).stream()` shape of dagster-dbt's
`DbtCliResource`: `yield from dbt.cli(["build"], context=context).stream()`.

A dbt subprocess per step costs ~6 s of imports here, plus a parse of the project, a full one
whenever the month vars change. In process, the project is parsed once per process and every
invocation reuses that manifest. The price is a few private names of dagster-dbt and dbt-duckdb
(imported below, each where it is used); tests/test_dbt_runner.py pins them, so an upgrade that
moves one fails there, naming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

from orchestration import settings

# profiles.yml reads these settings (defaults: ../warehouse/working.duckdb, ../warehouse/history.duckdb, 600MB),
# and the engine for the profile's default target (the runner always names its target).
PROFILE_SETTINGS = (settings.WORKING_DB, settings.HISTORY_DB, settings.DUCKDB_MEMORY_LIMIT, settings.ENGINE)

# dbt's structured events that carry a node's result; dagster-dbt turns them into Dagster events.
RESULT_EVENTS = frozenset({"LogModelResult", "LogSeedResult", "LogSnapshotResult", "LogTestResult"})


@dataclass
class DbtCoreInvocation:
    """One finished dbt invocation: the Dagster events of every node that finished, and why it
    failed, if it did."""

    args: list[str]
    target_path: Path
    events: list = field(default_factory=list)
    error: str | None = None

    def is_successful(self) -> bool:
        return self.error is None

    def get_error(self) -> dg.Failure | None:
        return dg.Failure(description=self.error) if self.error else None

    def stream(self, raise_on_error: bool = True) -> Iterator:
        """The events (outputs, materializations, check results), then the failure, if any:
        what did finish is recorded before the step fails."""
        yield from self.events
        if raise_on_error and (error := self.get_error()) is not None:
            raise error


class DbtCoreResource(dg.ConfigurableResource):
    """dbt Core, run inside the Dagster process on a manifest parsed once per process."""

    project_dir: str
    profiles_dir: str

    def cli(self, args: list[str], *, context: dg.AssetExecutionContext, target_path: Path | None = None, target: str = "duckdb") -> DbtCoreInvocation:
        """Run `dbt <args>` now, on the context's selection (as dagster-dbt would select it), against
        the profile's `target` (an engine: duckdb or spark)."""
        from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
        from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        target_path = target_path or Path(self.project_dir) / "target"
        args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(context, {}, DagsterDbtTranslator(), runtime_selects=selects, runtime_excludes=excludes)
        # dagster-dbt switches to a generated selectors file past 200 nodes; a parsed manifest
        # cannot take that file, and this project is far below it.
        if "--selector" in params.selection_args:
            raise dg.Failure("The dbt selection is too large for a selection on the command line.")
        indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
        full_args = [*args, *params.selection_args, *indirect, *_dbt_args(self.project_dir, self.profiles_dir, target_path, target)]
        results: list[dict] = []

        def keep_result(event) -> None:
            if event.info.name in RESULT_EVENTS:
                results.append(msg_to_dict(event))

        outcome = _invoke(dbtRunner(manifest=self.manifest(target), callbacks=[keep_result]), full_args, target_path)
        events = [
            event
            for raw in results
            for event in DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}).to_default_asset_events(
                manifest=params.manifest,
                dagster_dbt_translator=params.dagster_dbt_translator,
                context=context,
                target_path=target_path,
                project=params.dbt_project,
            )
        ]
        return DbtCoreInvocation(full_args, target_path, events, None if outcome.success else _failure(outcome))

    def run(self, args: list[str], *, target: str, target_path: Path) -> None:
        """Run `dbt <args>` as given (no Dagster selection, no events): what a step needs built
        beside its own assets. dg.Failure naming what failed, if anything did."""
        from dbt.cli.main import dbtRunner

        outcome = _invoke(dbtRunner(manifest=self.manifest(target)), [*args, *_dbt_args(self.project_dir, self.profiles_dir, target_path, target)], target_path)
        if not outcome.success:
            raise dg.Failure(description=_failure(outcome))

    def manifest(self, target: str = "duckdb"):
        """The parsed project (dbt's objects) for a target, once per process."""
        return _parsed_manifest(self.project_dir, self.profiles_dir, target)


def _invoke(runner, args: list[str], target_path: Path):
    """One invocation, its run_results.json written to the target path. dbt would also write the
    parsed manifest there, 1.2 MB serialized on every invocation (~0.7 s a step): it is the
    project's, already in the project's target dir."""
    try:
        outcome = runner.invoke([*args, "--no-write-json"])
    finally:
        close_dbt_connections()
    if hasattr(outcome.result, "write"):
        target_path.mkdir(parents=True, exist_ok=True)
        outcome.result.write(str(target_path / "run_results.json"))
    return outcome


def _dbt_args(project_dir: str, profiles_dir: str, target_path: Path, target: str) -> list[str]:
    # The step's dbt.log keeps dbt's info lines (each node's result, the errors): its debug lines,
    # ~2,000 a step with every statement's SQL, cost about a second of each run, and the SQL each
    # model ran is in the step's run/ folder.
    return [
        "--project-dir", project_dir, "--profiles-dir", profiles_dir, "--target", target,
        "--target-path", str(target_path), "--log-path", str(target_path), "--log-level-file", "info",
        "--quiet", "--no-send-anonymous-usage-stats",
    ]  # fmt: skip


@cache
def _parsed_manifest(project_dir: str, profiles_dir: str, target: str):
    from dbt.cli.main import dbtRunner

    # The project's own target dir, where `make` keeps dbt's partial-parse state fresh: an
    # unchanged project then loads in well under a second. No manifest.json is written, so
    # processes parsing at once (test workers, a UI reading it) never see it half-written.
    # That state is keyed on the profile's connection, the database path included: parse with the
    # profile's defaults, as `make` does (the manifest names the database "working" either way).
    # Another engine's parse (its adapter's macros) keeps its state in a folder of its own.
    state = Path(project_dir) / "target" / ("" if target == "duckdb" else target)
    with environment(dict.fromkeys((s.name for s in PROFILE_SETTINGS), None)):
        outcome = dbtRunner().invoke(["parse", *_dbt_args(project_dir, profiles_dir, state, target), "--no-write-json"])
    if not outcome.success:
        raise dg.Failure(f"dbt could not parse {project_dir}: {outcome.exception}")
    return outcome.result


def _failure(outcome) -> str:
    """Which nodes failed and why, from dbt's own results."""
    if outcome.exception is not None:
        return f"dbt failed: {outcome.exception}"
    failed = [r for r in outcome.result.results if str(r.status) in ("error", "fail", "runtime error")]
    lines = [f"{r.node.resource_type} {r.node.name}: {r.status}: {r.message}" for r in failed]
    return "dbt reported failures:\n" + "\n".join(lines or ["(no failed node named)"])


def close_dbt_connections() -> None:
    """dbt-duckdb keeps its DuckDB connection for the life of the process; close it after each
    invocation, so the warehouse file is free for the next step (read-only readers included)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the duration of a block."""
    previous = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
