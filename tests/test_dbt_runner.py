"""The in-process dbt runner (orchestration/defs/dbt_runner.py) calls private names of dagster-dbt,
dbt Core and dbt-duckdb: each is pinned here, so an upgrade that moves or changes one fails with
the name, the version and what the runner needs of it, rather than a step failing mid-run."""

import importlib
import inspect
from importlib.metadata import version

import dagster as dg
import pytest

from orchestration.defs.dbt_runner import RESULT_EVENTS, DbtCoreInvocation

pytestmark = pytest.mark.unit

UPGRADE = "orchestration/defs/dbt_runner.py relies on it; adapt the runner to the new version"

# (distribution, module, attribute, parameters the runner passes by name, or attributes it reads)
CALLED = [
    ("dagster-dbt", "dagster_dbt.asset_utils", "extract_runtime_selection_from_args", ["args"]),
    (
        "dagster-dbt", "dagster_dbt.asset_utils", "get_updated_cli_invocation_params_for_context",
        ["context", "manifest", "dagster_dbt_translator", "runtime_selects", "runtime_excludes"],
    ),
    ("dagster-dbt", "dagster_dbt.core.dbt_cli_event", "DbtCoreCliEventMessage", ["raw_event", "event_history_metadata"]),
    ("dbt-core", "dbt.cli.main", "dbtRunner", ["manifest", "callbacks"]),
    ("dbt-core", "dbt_common.events.functions", "msg_to_dict", ["msg"]),
]  # fmt: skip


def _resolve(distribution: str, module: str, name: str):
    where = f"{module}.{name} ({distribution} {version(distribution)})"
    try:
        return getattr(importlib.import_module(module), name), where
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{where} is gone ({error}); {UPGRADE}")


@pytest.mark.parametrize("distribution, module, name, parameters", CALLED, ids=[c[2] for c in CALLED])
def test_the_private_functions_called_keep_their_parameters(distribution, module, name, parameters):
    function, where = _resolve(distribution, module, name)
    missing = set(parameters) - set(inspect.signature(function).parameters)
    assert not missing, f"{where} no longer takes {sorted(missing)}; {UPGRADE}"


def test_the_invocation_params_still_carry_what_the_runner_reads():
    params, where = _resolve("dagster-dbt", "dagster_dbt.asset_utils", "DbtCliInvocationPartialParams")
    fields = set(inspect.get_annotations(params))
    missing = {"manifest", "dagster_dbt_translator", "selection_args", "indirect_selection", "dbt_project"} - fields
    assert not missing, f"{where} no longer has {sorted(missing)}; {UPGRADE}"


def test_the_event_message_still_turns_into_dagster_events():
    message, where = _resolve("dagster-dbt", "dagster_dbt.core.dbt_cli_event", "DbtCoreCliEventMessage")
    method = getattr(message, "to_default_asset_events", None)
    assert method is not None, f"{where}.to_default_asset_events is gone; {UPGRADE}"
    missing = {"manifest", "dagster_dbt_translator", "context", "target_path", "project"} - set(inspect.signature(method).parameters)
    assert not missing, f"{where}.to_default_asset_events no longer takes {sorted(missing)}; {UPGRADE}"


def test_dbt_still_names_the_result_events_the_runner_keeps():
    types, where = _resolve("dbt-core", "dbt.events", "types")
    missing = {name for name in RESULT_EVENTS if not hasattr(types, name)}
    assert not missing, f"{where} has no event {sorted(missing)}; {UPGRADE}"


def test_dbt_duckdb_still_keeps_its_connection_where_the_runner_closes_it():
    manager, where = _resolve("dbt-duckdb", "dbt.adapters.duckdb.connections", "DuckDBConnectionManager")
    missing = {name for name in ("_LOCK", "_ENV", "close_all_connections") if not hasattr(manager, name)}
    assert not missing, f"{where} has no {sorted(missing)}; {UPGRADE}"
    assert hasattr(manager._LOCK, "__enter__"), f"{where}._LOCK is no longer a lock; {UPGRADE}"


def test_a_failed_invocation_streams_what_finished_then_fails():
    finished = dg.Output(None, output_name="model")
    invocation = DbtCoreInvocation(["build"], None, [finished], "dbt reported failures:\nmodel m: error: boom")
    stream = invocation.stream()
    assert next(stream) is finished
    with pytest.raises(dg.Failure, match="model m: error: boom"):
        next(stream)
    assert list(invocation.stream(raise_on_error=False)) == [finished] and not invocation.is_successful()
