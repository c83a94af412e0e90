"""The warehouse's growth against the publisher's own: a warning naming every inconsistent figure."""

import dagster as dg

from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.quality.reconciliation import VERDICTS, reconciliation

SOURCE_RECONCILIATION = dg.AssetKey(["marts", "source_reconciliation"])


@dg.asset_check(
    asset=SOURCE_RECONCILIATION,
    name="reconciles_with_publisher",
    description=(
        "Warns when a growth rate the warehouse computes from a published index differs from the one the "
        "publisher gives for the same month, at the publisher's decimals (marts.source_reconciliation); names each."
    ),
    pool=WAREHOUSE_POOL,
)
def reconciles_with_publisher(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        result = reconciliation(con)
    return dg.AssetCheckResult(
        passed=not result.inconsistent,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.line()[:4000],
        metadata={
            **{v: result.counts.get(v, 0) for v in VERDICTS},
            "months": result.months,
            "months_consistent": result.months_consistent,
            "inconsistent": dg.MetadataValue.json(result.inconsistent[:50]),
        },
    )
