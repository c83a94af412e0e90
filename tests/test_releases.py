"""Releases and vintages through the real assets: a corrected file makes a release, history
survives a rebuild of the working database, a run that changes nothing makes none."""

import dagster as dg
import duckdb
import pytest

from orchestration.cli.commands import move_aside
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.landing import sha256_file
from orchestration.serving.history import roll_back_unpublished
from orchestration.serving.publish import publish
from tests.conftest import SAMPLE_SOURCES, run_pipeline

pytestmark = pytest.mark.integration

KEY = ("ONLINE_SALES", "ID", "_T", "_T", "2020-04")
KEY_SQL = "indicator_code = ? AND ref_area = ? AND size_class = ? AND breakdown = ? AND time_period = ?"


def published(warehouse_dir, sql, params=()):
    con = duckdb.connect(str(warehouse_dir / "indicators.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def releases(warehouse_dir):
    return published(warehouse_dir, "SELECT release_id, published_at, run_id FROM meta.releases ORDER BY release_id")


def test_a_corrected_file_makes_a_release_and_history_survives_a_rebuild(defs, sample_run, sample_warehouse, sources_copy):
    # The first run is the sample's (a copy of its warehouse, the landed files the same): release 1.
    first, warehouse_dir = sample_run[0], sample_warehouse
    [(release_1, published_1, run_1)] = releases(warehouse_dir)
    assert (release_1, run_1) == (1, first.run_id)
    [(old,)] = published(warehouse_dir, f"SELECT obs_value FROM marts.indicators WHERE {KEY_SQL}", KEY)

    # The platform resends April 2020 with one day's sales of one merchant corrected upwards.
    corrected = sources_copy / "sales" / "2020-04" / "pasar_a.csv"
    lines = corrected.read_text().splitlines()
    fields = lines[1].split(",")
    fields[-1] = f"{float(fields[-1]) + 1_000_000:.2f}"
    lines[1] = ",".join(fields)
    corrected.write_text("\n".join(lines) + "\n")
    # And a claim the warehouse contradicts lands with it: the run goes on, its claims check warns and names it.
    with open(sources_copy / "claims" / "claims.csv", "a", encoding="utf-8") as f:
        # CRLF, the sample's line ends (csv.writer's).
        f.write("rounded_up_share,A newspaper,2020-12-01,Some 14.8 % of ultra-micro firms sell online.,ONBOARDING_RATE,ID,ULTRA_MIKRO,_T,2020-10,=,14.8,0,1\r\n")
    second = run_pipeline(defs, sources_copy, warehouse_dir)
    assert second.success
    [check] = [c for c in second.get_asset_check_evaluations() if c.check_name == "claims_hold"]
    assert (check.passed, check.severity.value) == (False, "WARN")
    assert check.description.startswith("inconsistent: rounded_up_share;")
    listed = {c["claim_id"]: (c["verdict"], c["difference"]) for c in check.metadata["not_consistent"].value}
    assert listed["rounded_up_share"] == ("inconsistent", pytest.approx(-0.1125))
    assert [(r, run) for r, _, run in releases(warehouse_dir)] == [(1, first.run_id), (2, second.run_id)]
    published_2 = releases(warehouse_dir)[1][1]
    files = dict(published(warehouse_dir, "SELECT f.source_file, f.sha256 FROM meta.releases, unnest(source_files) AS t(f) WHERE release_id = 2"))
    assert files["sales/2020-04/pasar_a.csv"] == sha256_file(corrected)

    def history():
        return published(
            warehouse_dir,
            f"SELECT obs_value, release_from, release_to, published_from, published_to FROM marts.indicator_vintages WHERE {KEY_SQL} ORDER BY release_from",
            KEY,
        )

    assert history() == [(old, 1, 2, published_1, published_2), (old + 1_000_000, 2, None, published_2, None)]
    assert published(warehouse_dir, f"SELECT obs_value FROM marts.indicators WHERE {KEY_SQL}", KEY) == [(old + 1_000_000,)]
    revision = published(
        warehouse_dir,
        f"SELECT first_release, first_value, latest_release, latest_value, previous_value, revision, versions FROM marts.indicator_revisions WHERE {KEY_SQL}",
        KEY,
    )
    assert revision == [(1, old, 2, old + 1_000_000, old, pytest.approx(1_000_000), 2)]
    mean, mean_abs = published(warehouse_dir, "SELECT DISTINCT mean_revision, mean_absolute_revision FROM marts.indicator_revisions WHERE indicator_code = 'ONLINE_SALES'")[0]
    assert mean > 0 and mean_abs >= mean
    # Only what the correction touched was revised: April's sales, and the growth rates built on them.
    revised = published(warehouse_dir, "SELECT DISTINCT indicator_code FROM marts.indicator_revisions WHERE versions > 1 ORDER BY 1")
    assert ("ONLINE_SALES",) in revised and ("ONBOARDING_RATE",) not in revised

    # As published: on the first release's date the old value, now the new one; by release the same.
    as_of = f"SELECT obs_value, release_id FROM marts.indicators_as_published(?::TIMESTAMPTZ) WHERE {KEY_SQL}"
    assert published(warehouse_dir, as_of, [published_1, *KEY]) == [(old, 1)]
    assert published(warehouse_dir, as_of, [published_2, *KEY]) == [(old + 1_000_000, 2)]
    in_release = f"SELECT obs_value FROM marts.indicators_in_release(?) WHERE {KEY_SQL}"
    assert published(warehouse_dir, in_release, [1, *KEY]) == [(old,)]
    count_1 = published(warehouse_dir, "SELECT count(*) FROM marts.indicators_as_published(?::TIMESTAMPTZ)", [published_1])
    assert count_1 == published(warehouse_dir, "SELECT count(*) FROM marts.indicators")

    # Nothing changed: no release (the assets themselves decide, not `make run`'s shortcut).
    third = run_pipeline(defs, sources_copy, warehouse_dir)
    assert third.success
    assert len(releases(warehouse_dir)) == 2
    assert published(warehouse_dir, "SELECT release_id FROM meta.publication") == [(2,)]

    # A rebuild (`make rebuild`) moves the working database aside: the history stays, and the
    # rebuilt marts equal the last release, so no release either.
    vintages = published(warehouse_dir, "SELECT * FROM marts.indicator_vintages ORDER BY ALL")
    assert move_aside(warehouse_dir / "working.duckdb")
    rebuilt = run_pipeline(defs, sources_copy, warehouse_dir)
    assert rebuilt.success
    assert len(releases(warehouse_dir)) == 2
    assert published(warehouse_dir, "SELECT * FROM marts.indicator_vintages ORDER BY ALL") == vintages
    assert history()[0][0] == old
    exported = duckdb.execute(
        f"SELECT obs_value FROM read_parquet(?) WHERE {KEY_SQL} ORDER BY release_from", [str(warehouse_dir / "exports" / "indicator_vintages.parquet"), *KEY]
    ).fetchall()
    assert exported == [(old,), (old + 1_000_000,)]
    resource = WarehouseResource(sources_dir=str(sources_copy), warehouse_dir=str(warehouse_dir))
    assert resource.history_db.exists() and resource.history_db.parent == resource.working_db.parent


@pytest.mark.quick
def test_the_sample_claims_against_the_warehouse(published):
    verdicts = dict(published.execute("SELECT claim_id, verdict FROM marts.claims_check").fetchall())
    assert verdicts == {
        "online_sales_april_2020": "consistent",
        "ultra_micro_online_share": "consistent_if_truncated",
        "ultra_micro_online_count": "consistent",
        "ultra_micro_population": "consistent",
        "go_digital_registrations": "consistent",
        "go_digital_places": "consistent",
        "umkm_gdp_share": "consistent",
    }
    share = published.execute(
        "SELECT computed_value, computed_rounded, computed_truncated, stated_in_indicator_unit FROM marts.claims_check WHERE claim_id = 'ultra_micro_online_share'"
    ).fetchall()
    assert share == [(14.6875, 14.7, 14.6, 14.6)]
    count = published.execute("SELECT stated_in_indicator_unit, computed_value FROM marts.claims_check WHERE claim_id = 'ultra_micro_online_count'").fetchall()
    assert count == [(9_400_000, 9_400_000)]
    assert published.execute("SELECT DISTINCT release_id FROM marts.claims_check").fetchall() == published.execute("SELECT release_id FROM meta.publication").fetchall()


@pytest.mark.quick
def test_the_claims_check_warns_and_lists_what_is_not_consistent(sample_run):
    result, _ = sample_run
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "claims_hold"]
    assert check.passed
    listed = {c["claim_id"]: c["verdict"] for c in check.metadata["not_consistent"].value}
    assert listed == {"ultra_micro_online_share": "consistent_if_truncated"}


def test_a_release_exists_only_once_it_is_published(defs, sample_run, sample_warehouse, sources_copy):
    # The first run is the sample's (a copy of its warehouse, the landed files the same): release 1.
    first, warehouse_dir = sample_run[0], sample_warehouse
    history_db, published_db = warehouse_dir / "history.duckdb", warehouse_dir / "indicators.duckdb"
    [(_, published_1, _)] = releases(warehouse_dir)
    [(old,)] = published(warehouse_dir, f"SELECT obs_value FROM marts.indicators WHERE {KEY_SQL}", KEY)

    def made():
        with duckdb.connect(str(history_db), read_only=True) as con:
            return con.execute("SELECT release_id, run_id, published_at FROM meta.releases ORDER BY release_id").fetchall()

    # April 2020 corrected, then a run that stops after the release step: everything but publishing.
    corrected = sources_copy / "sales" / "2020-04" / "pasar_a.csv"
    lines = corrected.read_text().splitlines()
    fields = lines[1].split(",")
    fields[-1] = f"{float(fields[-1]) + 1_000_000:.2f}"
    lines[1] = ",".join(fields)
    corrected.write_text("\n".join(lines) + "\n")
    stopped = run_pipeline(defs, sources_copy, warehouse_dir, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("published"))
    assert stopped.success
    [_, (release_2, stopped_run, made_at)] = made()
    assert (release_2, stopped_run) == (2, stopped.run_id)
    # Nothing of it is published: one release, the old value, as of now and in every release.
    assert [(r, run) for r, _, run in releases(warehouse_dir)] == [(1, first.run_id)]
    as_of = f"SELECT obs_value, release_id FROM marts.indicators_as_published(?::TIMESTAMPTZ) WHERE {KEY_SQL}"
    assert published(warehouse_dir, as_of, [made_at, *KEY]) == [(old, 1)]
    assert published(warehouse_dir, f"SELECT obs_value FROM marts.indicators_in_release(2) WHERE {KEY_SQL}", KEY) == [(old,)]

    # The next run rolls the unpublished release back and makes release 2 itself, published now.
    instance = dg.DagsterInstance.ephemeral()
    following = run_pipeline(defs, sources_copy, warehouse_dir, instance=instance)
    assert following.success
    [(_, _, run_1), (release_2, published_2, run_2)] = releases(warehouse_dir)
    assert (run_1, release_2, run_2) == (first.run_id, 2, following.run_id) and published_2 > made_at
    said = [e.user_message for e in instance.all_logs(following.run_id) if e.dagster_event is None and e.step_key == "dbt_releases"]
    assert f"Release 2, made by run {stopped.run_id} at {made_at:%Y-%m-%d %H:%M:%S} UTC, was never published" in "\n".join(said)
    vintages = published(warehouse_dir, f"SELECT obs_value, release_from, release_to, published_from, published_to FROM marts.indicator_vintages WHERE {KEY_SQL} ORDER BY 2", KEY)
    assert vintages == [(old, 1, 2, published_1, published_2), (old + 1_000_000, 2, None, published_2, None)]
    assert published(warehouse_dir, as_of, [made_at, *KEY]) == [(old, 1)]  # what readers saw then
    assert published(warehouse_dir, as_of, [published_2, *KEY]) == [(old + 1_000_000, 2)]
    with duckdb.connect(str(history_db), read_only=True) as con:
        assert con.execute("SELECT release_id, run_id FROM meta.publications ORDER BY published_at").fetchall() == [(1, first.run_id), (2, following.run_id)]
        # The snapshot holds the published versions only: one row per version of the key.
        assert con.execute(f"SELECT count(*) FROM snapshots.indicator_observations WHERE {KEY_SQL}", list(KEY)).fetchall() == [(2,)]
    assert published(warehouse_dir, "SELECT release_id, run_id FROM meta.publication") == [(2, following.run_id)]

    # A run stopped between the rename and its record: the published file shows release 2 was
    # published, so it is kept, not rolled back; so is a history kept before publications were recorded.
    with duckdb.connect(str(history_db)) as con:
        con.execute("DELETE FROM meta.publications WHERE release_id = 2")
    assert roll_back_unpublished(history_db, published_db) == []
    assert [r for r, *_ in made()] == [1, 2]
    with duckdb.connect(str(history_db)) as con:
        con.execute("DROP TABLE meta.publications")
    assert roll_back_unpublished(history_db, published_db) == []
    with duckdb.connect(str(history_db), read_only=True) as con:
        assert con.execute("SELECT release_id, run_id FROM meta.publications").fetchall() == [(2, following.run_id)]


@pytest.mark.quick
def test_a_publication_that_fails_at_the_rename_records_nothing(sample_warehouse, tmp_path):
    # A copy: publishing records the publication in the history database.
    warehouse = WarehouseResource(sources_dir=str(SAMPLE_SOURCES), warehouse_dir=str(sample_warehouse))
    out = tmp_path / "out"
    blocked = out / "indicators.duckdb"
    (blocked / "in the way").mkdir(parents=True)  # a non-empty directory: the rename over it fails

    def recorded():
        with duckdb.connect(str(warehouse.history_db), read_only=True) as con:
            return con.execute("SELECT run_id FROM meta.publications ORDER BY published_at").fetchall()

    before = recorded()
    with warehouse.connect(read_only=True) as con, pytest.raises(OSError):
        publish(con, blocked, "failed-run", warehouse.history_db)
    assert recorded() == before and ("failed-run",) not in before
    assert [p.name for p in out.iterdir()] == ["indicators.duckdb"]  # no staging file left
    with warehouse.connect(read_only=True) as con:
        publish(con, out / "elsewhere.duckdb", "next-run", warehouse.history_db)
    assert recorded() == [*before, ("next-run",)]
