"""Jobs: the whole warehouse, from landed files to the published database."""

import dagster as dg

indicators_job = dg.define_asset_job(
    "indicators_job",
    selection=dg.AssetSelection.all(),
    description="Load every feed, build every model, run every check, publish the warehouse.",
)
