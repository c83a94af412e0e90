"""The landing sensor as the daemon runs it: ticks of the sensor daemon's own loop on a test
instance, the code location in a process of its own, run keys checked against the runs the
instance holds. A new file, a corrected re-send under the same name, a removal and a file put
back as it was each start a run."""

import datetime as dt
import logging

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import RUN_KEY_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time, instance_for_test
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.sensor import execute_sensor_iteration

from orchestration import settings

pytestmark = pytest.mark.e2e


def test_every_change_to_the_landing_zone_starts_a_run(sources_copy, tmp_path, monkeypatch):
    # The code server, started by the workspace, reads where the landing zone is from the environment.
    monkeypatch.setenv("DEI_SOURCES_DIR", str(sources_copy))
    monkeypatch.setenv("DEI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    # Runs are queued and never launched (no run queue daemon): what is under test is which runs start.
    coordinator = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}
    target = ModuleTarget("orchestration.definitions", "defs", str(settings.REPO_ROOT), "indicators")
    with instance_for_test(overrides=coordinator) as instance, create_test_daemon_workspace_context(target, instance) as workspace:
        [entry] = workspace.create_request_context().get_code_location_entries().values()
        assert entry.code_location is not None, entry.load_error
        [repository] = entry.code_location.get_repositories().values()
        sensor = repository.get_sensor("landing_sensor")
        instance.start_sensor(sensor)
        now = dt.datetime.now(dt.UTC)

        def tick():
            """One evaluation by the daemon's loop, past the sensor's minimum interval: the tick it recorded."""
            nonlocal now
            now += dt.timedelta(seconds=sensor.min_interval_seconds + 1)
            with freeze_time(now):
                list(execute_sensor_iteration(workspace, logging.getLogger("sensor_daemon"), None, None))
            [latest] = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id, limit=1)
            return latest

        def started(latest) -> list[dg.DagsterRun]:
            assert latest.status == TickStatus.SUCCESS, (latest.status, latest.skip_reason, latest.error)
            return [instance.get_run_by_id(run_id) for run_id in latest.run_ids]

        first = tick()
        assert first.status == TickStatus.SKIPPED and first.skip_reason.startswith("Recorded ")

        month = sources_copy / "sales" / "2020-04"
        landed = month / "pasar_e.csv"
        original = (month / "pasar_a.csv").read_text()
        corrected = original.splitlines()
        corrected[1] = corrected[1].rsplit(",", 1)[0] + ",1.00"
        runs = []
        for change in (
            lambda: landed.write_text(original),  # a new file
            lambda: landed.write_text("\n".join(corrected) + "\n"),  # a corrected re-send under the same name
            landed.unlink,  # the bad file removed
            lambda: landed.write_text(original),  # put back as first sent
        ):
            change()
            [run] = started(tick())
            assert run.tags["dagster/partition"] == "2020-04-01" and run.status == dg.DagsterRunStatus.QUEUED
            assert {k.to_user_string() for k in run.asset_selection} >= {"raw/sales", "published/indicators_db"}
            runs.append(run)
        keys = [run.tags[RUN_KEY_TAG] for run in runs]
        assert len(set(keys)) == 4 and all(key.startswith("2020-04:") for key in keys), keys
        assert [key.split(":")[1] for key in keys] == ["1", "2", "3", "4"]

        # Nothing changed since: no run, and the instance holds exactly the four.
        assert tick().status == TickStatus.SKIPPED
        assert len(instance.get_runs()) == 4
