"""The settings registry: every DEI_* variable the project reads is declared once in
orchestration/settings.py, and what reads it by name goes through the registry."""

import re

import pytest

from orchestration import settings
from orchestration.cli import fingerprint
from orchestration.settings import REPO_ROOT, SETTINGS

pytestmark = pytest.mark.unit

NAME = re.compile(r"\bDEI_[A-Z0-9_]*[A-Z0-9]\b")
# Read by the test suite alone (tests/test_fuzz.py), not by a run.
TEST_ONLY = {"DEI_FUZZ_FILES", "DEI_FUZZ_HUGE", "DEI_FUZZ_SEED"}


def mentioned(paths) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def test_every_setting_the_project_names_is_declared_once():
    declared = [s.name for s in SETTINGS]
    assert len(declared) == len(set(declared))
    files = [*REPO_ROOT.joinpath("orchestration").rglob("*.py"), REPO_ROOT / "Makefile", REPO_ROOT / "dbt_project" / "profiles.yml", *REPO_ROOT.joinpath("docs").rglob("*.md")]
    undeclared = {name: where for name, where in mentioned(files).items() if name not in declared and name not in TEST_ONLY}
    assert undeclared == {}


def test_the_engine_setting_is_named_in_the_registry_alone():
    where = mentioned(REPO_ROOT.joinpath("orchestration").rglob("*.py")).get(settings.ENGINE.name)
    assert where == {"orchestration/settings.py"}


def test_the_fingerprint_follows_the_settings_that_change_a_result(sources_copy, monkeypatch):
    assert [s.name for s in settings.RESULT_SETTINGS] == ["DEI_ENGINE", "DEI_LAKE_DIR", "DEI_FIRST_MONTH", "DEI_DUCKDB_MEMORY_LIMIT", "DEI_MAX_QUARANTINED_SHARE"]
    before = fingerprint.inputs_fingerprint(sources_copy)
    monkeypatch.setenv(settings.SPARK_SHUFFLE_PARTITIONS.name, "7")  # how fast, not what
    assert fingerprint.inputs_fingerprint(sources_copy) == before
    monkeypatch.setenv(settings.LAKE_DIR.name, "/elsewhere")
    assert fingerprint.inputs_fingerprint(sources_copy) != before


def test_the_getters_and_the_spark_engine_read_the_registry(monkeypatch, tmp_path):
    from orchestration.engines.spark import SparkEngine

    monkeypatch.setenv(settings.WAREHOUSE_DIR.name, str(tmp_path))
    monkeypatch.setenv(settings.LAKE_DIR.name, "")  # empty is unset: the warehouse's lake
    monkeypatch.delenv(settings.MAX_QUARANTINED_SHARE.name, raising=False)
    monkeypatch.setenv(settings.FIRST_MONTH.name, "2020-03")
    monkeypatch.setenv(settings.SPARK_SHUFFLE_PARTITIONS.name, "3")
    assert (settings.lake_dir(), settings.max_quarantined_share(), settings.first_month()) == (tmp_path / "lake", 0.01, "2020-03")
    config = SparkEngine().session_config()
    assert (config["spark.sql.shuffle.partitions"], config["spark.master"], config["spark.driver.memory"]) == ("3", "local[2]", "1g")
    assert config["spark.sql.warehouse.dir"] == str(tmp_path / "lake" / "warehouse")
