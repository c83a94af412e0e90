"""The Dagster code location of the indicator warehouse."""

import dagster as dg

from orchestration.defs.claims import claims_hold
from orchestration.defs.completeness import completeness
from orchestration.defs.dbt import dbt_marts, dbt_monthly, dbt_releases, model_checks, monthly_checks, release_checks
from orchestration.defs.freshness import sales_freshness
from orchestration.defs.jobs import indicators_job, monthly_job
from orchestration.defs.plausibility import sales_change_plausible
from orchestration.defs.publish import exports, indicators_db, report
from orchestration.defs.raw import feed_audits, load_audit, raw_assets
from orchestration.defs.reconciliation import reconciles_with_publisher
from orchestration.defs.resources import default_resources
from orchestration.defs.schedules import monthly_schedule
from orchestration.defs.sensors import landing_sensor

defs = dg.Definitions(
    assets=[*raw_assets, load_audit, *feed_audits, dbt_monthly, dbt_marts, dbt_releases, indicators_db, exports, report],
    asset_checks=[monthly_checks, model_checks, release_checks, sales_freshness, completeness, claims_hold, sales_change_plausible, reconciles_with_publisher],
    jobs=[indicators_job, monthly_job],
    schedules=[monthly_schedule],
    sensors=[landing_sensor],
    resources=default_resources(),
    # DuckDB has one writer per file: steps run one after another in one process, which also
    # spares the per-step interpreter start and imports of the multiprocess executor.
    executor=dg.in_process_executor,
)
