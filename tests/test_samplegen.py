"""The sample generator is deterministic, calibrated to the seed facts, and wrote the committed sample."""

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pytest

from orchestration.samplegen import allocate, generate, id_decimal, id_thousands, months_between
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.unit


def digest(root: Path) -> dict[str, str]:
    """Content of every generated file; Parquet compared by rows, not bytes."""
    con = duckdb.connect()
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in ("contracts.yml", "README.md")):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".parquet":
            rows = con.execute("SELECT * FROM read_parquet(?) ORDER BY ALL", [str(path)]).fetchall()
            out[rel] = hashlib.sha256(repr(rows).encode()).hexdigest()
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, sales_rows=3000)
    return out


def test_the_committed_sample_is_the_generators_output(tmp_path):
    generate(tmp_path)
    assert digest(tmp_path) == digest(REPO_ROOT / "sources")


def test_generation_is_deterministic(small, tmp_path):
    generate(tmp_path, sales_rows=3000)
    assert digest(tmp_path) == digest(small)


def test_calibration_holds_at_any_size(small):
    con = duckdb.connect()
    totals = dict(
        con.execute(
            f"""
        SELECT strftime(sale_date, '%Y-%m'), sum(gross_sales_idr) FROM (
            SELECT sale_date, gross_sales_idr FROM read_csv(['{small}/sales/*/*.csv', '{small}/sales/*/*.csv.gz'],
                columns = {{'sale_date': 'DATE', 'platform': 'VARCHAR', 'merchant_id': 'VARCHAR', 'province_code': 'VARCHAR',
                            'size_class': 'VARCHAR', 'orders': 'BIGINT', 'gross_sales_idr': 'DECIMAL(18,2)'}}, header = true)
            UNION ALL SELECT sale_date, gross_sales_idr FROM read_parquet('{small}/sales/*/*.parquet'))
        GROUP BY 1
        """
        ).fetchall()
    )
    assert len(totals) == 24
    assert totals["2020-04"] * 5 == totals["2020-01"] * 29  # exactly 5.8x, in exact decimals
    onboarded = con.execute(f"SELECT sum(newly_onboarded) FROM read_csv('{small}/onboarding/*.csv') WHERE size_class = 'ULTRA_MIKRO' AND report_month <= '2020-10'").fetchall()[0][
        0
    ]
    assert onboarded == 9_400_000
    assert "INDONESIA;64.000.000;" in (small / "population" / "umkm_population_2020.csv").read_text()
    registrations = con.execute(
        f"SELECT count(*), count(*) FILTER (status <> 'registered') FROM read_csv('{small}/training/registrations.csv') WHERE program_id = 'umkm_go_digital'"
    ).fetchall()[0]
    assert registrations == (6500, 2500)
    gdp = (small / "gdp" / "umkm_gdp_2019.csv").read_text()
    assert "INDONESIA;9.581.119,2;15.833.943,4" in gdp  # 60.51 % of GDP
    claims = con.execute(f"SELECT count(*), count(DISTINCT indicator_code) FROM read_csv('{small}/claims/claims.csv')").fetchall()
    assert claims == [(7, 7)]


def test_helpers():
    assert id_thousands(64_000_000) == "64.000.000"
    assert id_decimal(9_581_119.2) == "9.581.119,2" and id_decimal(286_513.0) == "286.513,0"
    assert months_between("2019-11", "2020-02") == ["2019-11", "2019-12", "2020-01", "2020-02"]
    parts = allocate(10, np.array([1.0, 1.0, 1.0]))
    assert parts.sum() == 10 and sorted(parts) == [3, 3, 4]
