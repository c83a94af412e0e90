"""Published claims against the current release: a warning when one does not hold."""

from collections import Counter

import dagster as dg

from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.serving.releases import VERDICTS, claims, not_consistent

CLAIMS_CHECK = dg.AssetKey(["marts", "claims_check"])


@dg.asset_check(
    asset=CLAIMS_CHECK,
    name="claims_hold",
    description=(
        "Warns when a published claim (sources/claims/claims.csv) is inconsistent with the current release; "
        "lists every claim that is not plainly consistent (truncated figures, values the warehouse cannot compute)."
    ),
    pool=WAREHOUSE_POOL,
)
def claims_hold(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        rows = claims(con)
    others = not_consistent(rows)
    counts = Counter(row[5] for row in rows)
    inconsistent = [c["claim_id"] for c in others if c["verdict"] == "inconsistent"]
    summary = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
    return dg.AssetCheckResult(
        passed=not inconsistent,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"inconsistent: {', '.join(inconsistent)}; " if inconsistent else "") + f"{len(rows)} claims: {summary or 'none'}",
        metadata={
            "claims": len(rows),
            **{v: counts[v] for v in VERDICTS},
            "not_consistent": dg.MetadataValue.json(others),
        },
    )
