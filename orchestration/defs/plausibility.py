"""Plausibility of the published sales series: a warning naming each month no earlier month makes
plausible, and the sales rows that carry it (orchestration.quality.plausibility says how it is judged)."""

import dagster as dg
import duckdb

from orchestration.contracts import load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.raw import raw_key
from orchestration.defs.resources import WarehouseResource
from orchestration.quality.plausibility import CHANGE_FACTOR, MIN_HISTORY, implausible_months

SALES_GROWTH = dg.AssetKey(["marts", "sales_growth"])
CHECK_NAME = "sales_change_plausible"


@dg.asset_check(
    asset=SALES_GROWTH,
    name=CHECK_NAME,
    description=(
        "Warns when a month's online sales change in a headline series (national, each size class) is one no earlier "
        f"month makes plausible: beyond what the median province moved that month by more than {CHANGE_FACTOR:g} times "
        f"the largest such gap in its earlier months (at least {MIN_HISTORY}), and at least twofold; names the largest "
        "sales rows of that month (file, day, merchant, value, share)."
    ),
    additional_deps=[raw_key(load_contracts().feeds["sales"])],
    pool=WAREHOUSE_POOL,
)
def sales_change_plausible(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        try:
            flagged = implausible_months(con)
        except duckdb.CatalogException:  # the raw layer alone in a new warehouse
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="not judged: marts.sales_growth has not been built yet")
    return dg.AssetCheckResult(
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        description=("; ".join(f.describe() for f in flagged) if flagged else "every month's change is within its series' history")[:4000],
        metadata={
            "implausible_months": len(flagged),
            "flagged": dg.MetadataValue.json([{"series": f.series, "month": f.month, "top_rows": f.top_rows} for f in flagged]),
        },
    )
