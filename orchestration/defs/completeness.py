"""Completeness: a warning on each monthly feed listing the inputs it should have landed and did not."""

from collections.abc import Iterator

import dagster as dg
import duckdb

from orchestration.contracts import is_monthly, load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.raw import raw_key
from orchestration.defs.resources import WarehouseResource

FEEDS = {raw_key(feed): feed.name for feed in load_contracts().feeds.values() if is_monthly(feed)}
FEED_COMPLETENESS = dg.AssetKey(["marts", "feed_completeness"])


@dg.multi_asset_check(
    name="completeness",
    specs=[
        dg.AssetCheckSpec(
            "completeness",
            asset=key,
            additional_deps=[FEED_COMPLETENESS],
            blocking=False,
            description=(
                f"Warns when a month from the {name} feed's first landed month to its last has no file"
                + (" of a platform the platforms reference expects" if name == "sales" else "")
                + ": its indicators are published as missing (status L). Reads marts.feed_completeness."
            ),
        )
        for key, name in FEEDS.items()
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def completeness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
    selected = {check.asset_key for check in context.selected_asset_check_keys}
    with warehouse.connect(read_only=True) as con:
        try:
            rows = dict(
                con.execute(
                    """
                    SELECT feed, list(struct_pack(month := strftime(input_month, '%Y-%m'), platform, completeness) ORDER BY input_month, platform)
                    FROM marts.feed_completeness WHERE completeness <> 'landed' GROUP BY feed
                    """
                ).fetchall()
            )
        except duckdb.CatalogException:
            rows = None  # a run of the raw layer alone into a new warehouse
    for key, name in FEEDS.items():
        if key not in selected:
            continue
        if rows is None:
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="completeness",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description="not judged: marts.feed_completeness has not been built in this warehouse yet (materialize the marts)",
            )
            continue
        problems = rows.get(name, [])
        missing = [p for p in problems if p["completeness"] == "missing"]
        unexpected = [p for p in problems if p["completeness"] == "unexpected"]
        description = (f"not landed: {_listed(missing)}" if missing else "every expected file landed") + (
            f"; landed without being expected (add the platform to reference/platforms.csv): {_listed(unexpected)}" if unexpected else ""
        )
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="completeness",
            passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,
            description=description[:4000],
            metadata={"missing": len(missing), "unexpected": len(unexpected), "missing_inputs": dg.MetadataValue.json(missing[:100])},
        )


def _listed(inputs: list[dict]) -> str:
    return ", ".join(i["month"] + ("" if i["platform"] == "_Z" else f" {i['platform']}") for i in inputs)
