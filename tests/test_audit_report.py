"""`make audit`, the command the run summary names after a rejected file or a quarantined row:
the last run's loads and quarantined rows, read with the project's own DuckDB."""

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.contracts import load_contracts
from orchestration.ingest.load import load_feed
from orchestration.settings import REPO_ROOT
from tests.conftest import FIXTURES, SAMPLE_SOURCES, land

CONTRACTS = load_contracts()


def make_audit(warehouse: Path, *args: str) -> str:
    env = {**os.environ, "DEI_WAREHOUSE_DIR": str(warehouse)}
    run = subprocess.run(["make", "--no-print-directory", "-s", "audit", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return run.stdout


@pytest.mark.e2e
def test_make_audit_prints_the_last_runs_loads_and_quarantined_rows(tmp_path):
    landing, warehouse = tmp_path / "sources", tmp_path / "warehouse"
    (landing / "reference").mkdir(parents=True)
    warehouse.mkdir()
    shutil.copy(SAMPLE_SOURCES / "reference" / "provinces.csv", landing / "reference")
    assert make_audit(warehouse).startswith("No working database at ")

    land(FIXTURES / "landing", landing)
    with duckdb.connect(str(warehouse / "working.duckdb")) as con:
        load_feed(con, CONTRACTS.feeds["provinces"], landing, "run-1")
        load_feed(con, CONTRACTS.feeds["sales"], landing, "run-1")
        # A later run that loads nothing new: the audit shows it, its files unchanged.
        load_feed(con, CONTRACTS.feeds["sales"], landing, "run-2")
    out = make_audit(warehouse, "LIMIT=2").splitlines()
    assert out[0].startswith("Load audit of run run-2 (") and out[0].endswith(f"from {warehouse}/working.duckdb (audit.file_loads):")
    # A rejected file is rejected again in every run until it is corrected or removed.
    assert "  sales                    sales/2020-06/pasar_a__corrupt.csv.gz            rejected         0        0        0  " + (
        "sales/2020-06/pasar_a__corrupt.csv.gz: cannot be read as gzip"
    ) in "\n".join(out)
    assert out[-2:] == ["  unchanged since their last load: sales 13", "No row was quarantined in this run."]

    out = subprocess.run(
        [".venv/bin/python", "-m", "orchestration.cli", "audit", "--run-id", "run-1", "--limit", "2"],
        cwd=REPO_ROOT, env={**os.environ, "DEI_WAREHOUSE_DIR": str(warehouse)}, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "  sales                    sales/2020-04/pasar_a__text_in_number.csv        loaded           4        2        2  \n" in out
    quarantined = out.split("Quarantined in this run, sales (")[1].splitlines()
    total = duckdb.connect(str(warehouse / "working.duckdb"), read_only=True).execute("SELECT count(*) FROM quarantine.sales").fetchall()[0][0]
    assert quarantined[0] == f"{total:,} row(s), quarantine.sales):"
    assert len(quarantined) >= 4 and quarantined[3] == f"  ... and {total - 2:,} more (`make audit LIMIT={total}` lists them all)"
    # Each row names its file and line, column, rule and reason; bytes from the file are shown escaped.
    assert quarantined[1:3] == [
        "  sales/2020-04/pasar_a__date_outside_month.csv:3  sale_date  in_file_month: `sale_date` '2020-05-01' is outside the file's month 2020-04",
        "  sales/2020-04/pasar_a__date_outside_month.csv:4  sale_date  type: `sale_date` value '2020-04-31' is not a DATE",
    ]
    assert not any(c in out for c in "\x1b\x00\x07")


@pytest.mark.unit
def test_the_run_summary_names_make_audit_after_a_rejected_file_or_a_quarantined_row():
    from orchestration.ingest.audit import RunSummary

    summary = RunSummary(
        loaded=1, unchanged=0, rejected=["x.csv: the file is empty"], held=[], removed=0, rows_loaded=0, rows_quarantined=0, quarantined_by_feed={}, not_collected=None
    )
    assert summary.lines("/w/working.duckdb")[-1] == "  every file, load and quarantined row of this run: `make audit` (reads /w/working.duckdb)"
    assert not any("duckdb -readonly" in line for line in summary.lines("/w/working.duckdb"))
