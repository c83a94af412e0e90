"""Smoke test of the benchmark (bench/): every contender runs on a few thousand rows, and the
baselines compute the same monthly sales. Not timed: the figures are for bench/README.md."""

import json
import subprocess
import sys

import duckdb
import pytest

from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_benchmark_runs_every_contender_and_the_baselines_agree(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "compare.py"), "--sales-rows", "3000", "--repeats", "1",
         "--skip-make-run", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["contenders"]) == {"pipeline", "bare_duckdb", "pandas_pandera"}
    for runs in results["contenders"].values():
        assert len(runs) == 1 and runs[0]["wall_s"] > 0 and runs[0]["peak_rss_mib"] > 10
    assert 0 < results["new_month"]["new_month_s"] and 0 < results["new_month"]["full_s"]
    assert "pipeline / bare_duckdb" in done.stdout and "new month after 24" in done.stdout

    monthly = {}
    for name in ("bare_duckdb", "pandas_pandera"):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
        monthly[name] = con.execute("SELECT sale_month::DATE, round(gross_sales_idr::DOUBLE, 2), round(growth_mom_pct, 6) FROM national_growth ORDER BY 1").fetchall()
        con.close()
    assert len(monthly["bare_duckdb"]) == 24
    assert monthly["bare_duckdb"] == monthly["pandas_pandera"]
    # The pipeline published the same national sales from the same files.
    published = duckdb.connect(str(tmp_path / "warehouse" / "indicators.duckdb"), read_only=True)
    national = published.execute("SELECT sale_month, round(gross_sales_idr::DOUBLE, 2) FROM marts.sales_growth WHERE ref_area = 'ID' AND size_class = '_T' ORDER BY 1").fetchall()
    published.close()
    assert national == [(month, sales) for month, sales, _ in monthly["bare_duckdb"]]


def test_one_feeds_load_alone_is_timed_on_the_sample():
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "ingest_only.py"), "--sources", str(REPO_ROOT / "sources"), "--feed", "sales"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, rest = done.stdout.removeprefix("raw/sales: ").split(" s; ")
    assert float(seconds) > 0 and rest.endswith(" loaded, 0 quarantined\n") and not rest.startswith("0 rows"), done.stdout
