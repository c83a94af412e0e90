"""Cost of adding one month after 24 are loaded, as a ratio to one full run of all 25 months.

Generates 25 months of feeds (2019-01..2021-01, N sales rows in all), then in one process:
  full      every asset, every check, all 25 months in one run, into an empty warehouse;
  history   the first 24 months in one run, into a second warehouse (not timed);
  new month 2021-01 lands; its partition (and everything downstream) runs into that warehouse.
Both timed runs are measured the same way: wall time of the run, Dagster and dbt imports already
paid. Run by hand: `.venv/bin/python bench/new_month.py --sales-rows 10000000`.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds import generated_feeds  # noqa: E402

NEW_MONTH = "2021-01"


def materialize(sources: Path, warehouse: Path, **kwargs) -> float:
    """Wall time of one run; its steps' times are printed."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import WarehouseResource

    resources = {**defs.resources, "warehouse": WarehouseResource(sources_dir=str(sources), warehouse_dir=str(warehouse))}
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        **kwargs,
    )
    elapsed = time.perf_counter() - started
    assert result.success, "run failed"
    steps = sorted(instance.get_run_step_stats(result.run_id), key=lambda s: s.start_time)
    print("  by step: " + ", ".join(f"{s.step_key} {s.end_time - s.start_time:.1f} s" for s in steps), flush=True)
    return elapsed


def measure_new_month(sales_rows: int, work: Path, all_csv: bool = False) -> tuple[float, float]:
    """(full 25-month run, new month after 24) wall times in seconds; feeds generated once under `work`."""
    landing = generated_feeds(work, sales_rows, "2019-01", NEW_MONTH, all_csv=all_csv)
    # The definitions are loaded for this landing zone: their monthly partitions run to the end of
    # the reporting period it declares, NEW_MONTH.
    os.environ["DEI_SOURCES_DIR"] = str(landing)
    from orchestration.defs.partitions import partition_range_tags

    history = work / "history-sources"
    shutil.rmtree(history, ignore_errors=True)
    shutil.copytree(landing, history)
    for path in [history / "sales" / NEW_MONTH, history / "onboarding" / f"{NEW_MONTH}.csv"]:
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    for name in ("full", "incremental"):
        shutil.rmtree(work / name, ignore_errors=True)
    full = materialize(landing, work / "full", tags=partition_range_tags("2019-01", NEW_MONTH))
    print(f"full run, 25 months: {full:.1f} s", flush=True)
    materialize(history, work / "incremental", tags=partition_range_tags("2019-01", "2020-12"))
    shutil.copytree(landing / "sales" / NEW_MONTH, history / "sales" / NEW_MONTH)
    shutil.copy(landing / "onboarding" / f"{NEW_MONTH}.csv", history / "onboarding")
    new = materialize(history, work / "incremental", partition_key=f"{NEW_MONTH}-01")
    print(f"new month {NEW_MONTH} after 24: {new:.1f} s = {new / full:.1%} of the full run", flush=True)
    return full, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales-rows", type=int, default=10_000_000)
    parser.add_argument("--all-csv", action="store_true", help="every sales file plain CSV")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated feeds and warehouses here")
    args = parser.parse_args()
    measure_new_month(args.sales_rows, args.workdir or Path(tempfile.mkdtemp(prefix="bench-new-month-")), args.all_csv)


if __name__ == "__main__":
    main()
