"""The published database: the marts BI tools read, replaced atomically after a good run."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings
from orchestration.defs.dbt import RELEASES, models_in_layer
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.raw import OWNER
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.audit import completeness_line
from orchestration.serving.charts import Section, headline_charts, write_report
from orchestration.serving.exports import export
from orchestration.serving.provenance import synthetic_note
from orchestration.serving.publish import PUBLISHED_STORAGE_VERSION, code_version, publish
from orchestration.serving.releases import claims, formatted, latest_release_revisions, not_consistent
from orchestration.sql import sql_literal


def published_asset(name: str, deps: list, kinds: set[str], description: str, pool: str | None = None, output_required: bool = True):
    """An asset of the `published` layer: what BI tools and people read."""
    return dg.asset(
        pool=pool,
        output_required=output_required,
        key=["published", name],
        group_name="published",
        deps=deps,
        kinds=kinds,
        owners=[OWNER],
        description=description,
        tags={"layer": "published"},
    )


@published_asset(
    "indicators_db",
    deps=[*models_in_layer("marts"), *models_in_layer(RELEASES)],
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,  # reads the working database
    output_required=False,  # not written when the run has nothing new (then neither are the exports and report)
    description=(
        f"The database BI tools read (${settings.WAREHOUSE_DIR.name}/indicators.duckdb): every mart, their "
        "column comments, the release history (meta.releases, marts.indicator_vintages and the table macros "
        "marts.indicators_as_published(as_of) and marts.indicators_in_release(release)) and meta.publication, "
        "written to a new file in DuckDB storage "
        f"{PUBLISHED_STORAGE_VERSION} (readable by DuckDB 1.1 and later) and renamed over the old one."
    ),
)
def indicators_db(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    with warehouse.connect(read_only=True) as con:
        if (why := nothing_new(con, warehouse.published_db, context.run.run_id)) is not None:
            context.log.warning(f"not published: {why}")
            return
        publication = publish(con, warehouse.published_db, context.run.run_id, warehouse.history_db)
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(publication.path)),
            "tables": dg.MetadataValue.json(publication.tables),
            "source_files": publication.source_files,
            "storage_version": PUBLISHED_STORAGE_VERSION,
        }
    )


def nothing_new(con: duckdb.DuckDBPyConnection, published_db: Path, run_id: str) -> str | None:
    """Why this run has nothing new to publish, or None: it loaded and removed no file but rejected
    some (every file that landed or changed was rejected), and the published database already
    holds the same landed files, the same release and the same code."""
    statuses = {status for (status,) in con.execute("SELECT DISTINCT status FROM audit.file_loads WHERE run_id = ?", [run_id]).fetchall()}
    if "rejected" not in statuses or statuses & {"loaded", "removed"} or not published_db.exists():
        return None
    try:
        con.execute(f"ATTACH {sql_literal(str(published_db))} AS last_published (READ_ONLY)")
    except duckdb.Error:
        return None  # a published database that cannot be opened is replaced
    try:
        same = con.execute(
            """
            SELECT (SELECT list((feed, source_file, sha256) ORDER BY feed, source_file) FROM audit.loaded_files)
                       IS NOT DISTINCT FROM (SELECT list((feed, source_file, sha256) ORDER BY feed, source_file) FROM last_published.meta.source_files)
               AND (SELECT release_id FROM last_published.meta.publication) IS NOT DISTINCT FROM (SELECT greatest(max(release_from), max(release_to)) FROM marts.indicator_vintages)
               AND (SELECT code_version FROM last_published.meta.publication) = ?
            """,
            [code_version()],
        ).fetchall()[0][0]
        published_by = con.execute("SELECT run_id FROM last_published.meta.publication").fetchall()[0][0]
    except duckdb.CatalogException:
        return None  # one without these tables (an older layout) is replaced
    finally:
        con.execute("DETACH last_published")
    if not same:
        return None
    return f"every file that landed or changed was rejected and nothing else changed: {published_db.name} stays run {published_by}'s publication"


@published_asset(
    "exports",
    deps=[indicators_db],
    kinds={"parquet", "csv", "xml"},
    description=(
        "Files for tools that read files, from the published database: "
        f"${settings.WAREHOUSE_DIR.name}/exports/<mart>.parquet for every mart, indicators.sdmx.csv "
        "(SDMX-CSV 2.1: STRUCTURE, STRUCTURE_ID, ACTION, dimensions, OBS_VALUE with NaN when missing, "
        "OBS_STATUS, the indicator's ORIGIN and SOURCE) and indicators.structure.xml, its SDMX-ML 3.0 structure (codelists, concepts, "
        "data structure, dataflow); each file is replaced atomically."
    ),
)
def exports(warehouse: WarehouseResource) -> dg.MaterializeResult:
    written = export(warehouse.published_db, warehouse.exports_dir)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(warehouse.exports_dir)), "files": dg.MetadataValue.json(written)})


@published_asset(
    "report",
    deps=[indicators_db],
    kinds={"html"},
    description=(
        "Charts of the headline indicators from the published database (national online sales and "
        "MoM growth, onboarding rate by size class, the ten provinces with the highest onboarding "
        "rate, training registrations against capacity; the retail sales index with its y-o-y growth and household "
        "internet access by province when published tables have landed), each captioned with the origin and source "
        "of its figures, what the last release revised and the published "
        f"claims checked against it: PNG files and a one-page HTML report in ${settings.WAREHOUSE_DIR.name}/reports/."
    ),
)
def report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    con = duckdb.connect(str(warehouse.published_db), read_only=True)
    try:
        charts = headline_charts(con)
        run_id, published_at = con.execute("SELECT run_id, published_at FROM meta.publication").fetchall()[0]
        incomplete = completeness_line(con)
        last_release = latest_release_revisions(con)
        claim_rows = claims(con)
        synthetic = synthetic_note(con)
    finally:
        con.close()
    notes = [note for note in (synthetic, incomplete) if note]
    sections = [
        Section(
            f"Revisions in release {last_release.release_id}",
            last_release.line() + " Every version of every observation: marts.indicator_vintages; revisions: marts.indicator_revisions.",
            ("observation", "before", "now", "revision", "revision %", "unit"),
            formatted(last_release.revised[:20]),
        ),
        Section(
            "Published claims checked against the warehouse",
            "Each claim of sources/claims/claims.csv against the current release (marts.claims_check): an equality at "
            "the precision it is stated with, rounded, else truncated; an inequality as stated.",
            ("claim", "observation", "stated", "computed", "computed as stated", "verdict", "difference", "quote"),
            formatted([row[:8] for row in claim_rows]),
        ),
    ]
    page = write_report(charts, warehouse.reports_dir, f"Published {published_at:%Y-%m-%d %H:%M} UTC by run {run_id}.", notes, sections)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(page)),
            "not_collected": incomplete or "nothing: every expected input landed",
            **last_release.metadata(),
            "claims_not_consistent": dg.MetadataValue.json(not_consistent(claim_rows)),
            **{f"chart_{chart.name}": dg.MetadataValue.md(chart.markdown()) for chart in charts},
        }
    )
