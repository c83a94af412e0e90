"""Jobs: the whole warehouse, and one month of it (what the schedule runs)."""

import dagster as dg

from orchestration.contracts import is_monthly, load_contracts
from orchestration.defs.raw import raw_key

MONTHLY_FEEDS = dg.AssetSelection.assets(*(raw_key(f) for f in load_contracts().feeds.values() if is_monthly(f)))

indicators_job = dg.define_asset_job(
    "indicators_job",
    selection=dg.AssetSelection.all(),
    description=(
        "Load every feed, build every model, run every check, publish the warehouse. The monthly assets take a range of months (`make run`: every month landed), built in one run."
    ),
)

monthly_job = dg.define_asset_job(
    "monthly_job",
    selection=MONTHLY_FEEDS.downstream().materializable(),  # monthly partitions, from the monthly assets it selects
    description="One month of the monthly feeds (sales, onboarding) and everything built from them, up to publishing.",
)
