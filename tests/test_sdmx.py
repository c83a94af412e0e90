"""The published SDMX structure and the SDMX-CSV data, read back with pysdmx: the data must validate against the structure."""

import csv
import shutil
from pathlib import Path

import duckdb
import pytest
from lxml import etree
from pysdmx.io import get_datasets, read_sdmx
from pysdmx.model import Role

from orchestration.contracts import load_contracts
from orchestration.serving import sdmx
from orchestration.serving.exports import SDMX_DATA_FILE, SDMX_STRUCTURE_FILE
from tests.conftest import SAMPLE_SOURCES
from tests.test_provenance import SYNTHETIC_SOURCE

pytestmark = [pytest.mark.integration, pytest.mark.quick]

STRUCTURE_NS = {"str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure"}
DATAFLOW = f"Dataflow={sdmx.STRUCTURE_ID}"


@pytest.fixture(scope="module")
def files(sample_run, published) -> tuple[Path, Path]:
    _, warehouse = sample_run
    return warehouse.exports_dir / SDMX_STRUCTURE_FILE, warehouse.exports_dir / SDMX_DATA_FILE


def codes(message, codelist_id: str) -> dict[str, str]:
    return {code.id: code.name for code in message.get_codelist(f"Codelist={sdmx.AGENCY}:{codelist_id}({sdmx.VERSION})").items}


def test_structure_message_describes_the_published_indicators(files, published):
    structure = read_sdmx(files[0])  # validated against the SDMX-ML 3.0 schemas
    dataflow = structure.get_dataflow(DATAFLOW)
    components = structure.get_data_structure_definition(dataflow.structure).components
    assert [(c.id, c.role) for c in components] == [
        *((d, Role.DIMENSION) for d in ("FREQ", "INDICATOR", "REF_AREA", "SIZE_CLASS", "BREAKDOWN", "UNIT_MEASURE", "TIME_PERIOD")),
        ("OBS_VALUE", Role.MEASURE),
        ("OBS_STATUS", Role.ATTRIBUTE),
        ("ORIGIN", Role.ATTRIBUTE),
        ("SOURCE", Role.ATTRIBUTE),
    ]
    # The origin and source are the indicator's: attached to its dimension, mandatory.
    attributes = {c.id: c for c in components if c.role == Role.ATTRIBUTE}
    assert [(attributes[a].attachment_level, attributes[a].required) for a in ("OBS_STATUS", "ORIGIN", "SOURCE")] == [
        ("O", True),
        ("INDICATOR", True),
        ("INDICATOR", True),
    ]
    assert codes(structure, "CL_ORIGIN") == {
        "published": "Published table, as released by its publisher",
        "synthetic": "Synthetic sample, not official statistics",
    }

    catalog = dict(published.execute("SELECT indicator_code, indicator_name FROM marts.indicator_catalog").fetchall())
    assert codes(structure, "CL_INDICATOR") == catalog
    provinces = dict(published.execute("SELECT bps_code, province_name FROM marts.provinces").fetchall())
    # The retail sales survey's cities, besides Jakarta (the province of DKI Jakarta), from their reference file.
    with open(SAMPLE_SOURCES / "reference" / "bi_cities.csv", newline="", encoding="utf-8") as f:
        cities = {row["city_code"]: row for row in csv.DictReader(f) if row["city_code"] not in provinces}
    area = codes(structure, "CL_AREA")
    assert area.keys() == {"ID", *provinces, *cities}
    assert {code: area[code] for code in ("ID", *provinces)} == {"ID": "Indonesia", **provinces}
    assert area["3374_3302"].startswith("Semarang and Purwokerto (Bank Indonesia survey city: A composite")
    assert set(codes(structure, "CL_SIZE_CLASS")) == {*load_contracts().code_lists["size_class"], "_T"}
    with open(SAMPLE_SOURCES / "reference" / "platforms.csv", newline="", encoding="utf-8") as f:
        platforms = {row["platform"] for row in csv.DictReader(f)}
    programmes = {p for (p,) in published.execute("SELECT program_id FROM marts.training_uptake").fetchall()}
    with open(SAMPLE_SOURCES / "reference" / "bi_retail_categories.csv", newline="", encoding="utf-8") as f:
        categories = {row["category_code"] for row in csv.DictReader(f)}
    assert set(codes(structure, "CL_BREAKDOWN")) == {"_T", "URBAN", "RURAL", *categories, *platforms, *programmes}
    assert codes(structure, "CL_OBS_STATUS") == {
        "A": "Normal value",
        "B": "Time series break",
        "L": "Missing value; data exist but were not collected",
        "M": "Missing value; data cannot exist",
        "P": "Provisional value",
    }


def test_sdmx_csv_validates_against_the_published_structure(files, published):
    structure_file, data_file = files
    with open(data_file, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == [
        "STRUCTURE",
        "STRUCTURE_ID",
        "ACTION",
        "FREQ",
        "INDICATOR",
        "REF_AREA",
        "SIZE_CLASS",
        "BREAKDOWN",
        "UNIT_MEASURE",
        "TIME_PERIOD",
        "OBS_VALUE",
        "OBS_STATUS",
        "ORIGIN",
        "SOURCE",
    ]

    # The STRUCTURE_ID of every row resolves to the published dataflow (pysdmx raises otherwise).
    (dataset,) = get_datasets(data_file, structure_file)
    assert dataset.structure.short_urn == DATAFLOW
    data, components = dataset.data, dataset.structure.components
    assert len(data) == published.execute("SELECT count(*) FROM marts.indicators").fetchall()[0][0]
    assert sdmx.unlisted_codes(components, data) == {}
    key = [c.id for c in components if c.role == Role.DIMENSION]
    assert not data.duplicated(key).any()
    assert data.TIME_PERIOD.where(data.FREQ == "M").dropna().str.fullmatch(r"\d{4}-\d{2}").all()
    assert data.TIME_PERIOD.where(data.FREQ == "A").dropna().str.fullmatch(r"\d{4}").all()

    # The values as written: intentionally missing is NaN, counts are integers.
    (raw,) = read_sdmx(data_file).data
    values = raw.data
    assert ((values.OBS_VALUE == "NaN") == values.OBS_STATUS.isin(["L", "M"])).all()
    assert (values.OBS_VALUE == "NaN").any() and (values.OBS_STATUS == "A").any()
    counts = values.OBS_VALUE[(values.UNIT_MEASURE == "NUMBER") & (values.OBS_VALUE != "NaN")]
    assert len(counts) and counts.str.fullmatch(r"-?[0-9]+").all()

    # Every row names its indicator's origin and source, as the catalog does: one of each per indicator.
    catalog = {code: (origin, source) for code, origin, source in published.execute("SELECT indicator_code, origin, source FROM marts.indicator_catalog").fetchall()}
    provenance = values[["INDICATOR", "ORIGIN", "SOURCE"]].drop_duplicates()
    assert not provenance.INDICATOR.duplicated().any()
    assert {row.INDICATOR: (row.ORIGIN, row.SOURCE) for row in provenance.itertuples()} == {code: catalog[code] for code in provenance.INDICATOR}
    assert catalog["ONLINE_SALES"] == ("synthetic", SYNTHETIC_SOURCE)


def test_a_code_missing_from_its_codelist_is_detected(files, tmp_path):
    structure_file, data_file = files
    tree = etree.parse(str(structure_file))
    (jakarta,) = tree.xpath("//str:Codelist[@id='CL_AREA']/str:Code[@id='31']", namespaces=STRUCTURE_NS)
    jakarta.getparent().remove(jakarta)
    damaged = tmp_path / "structure.xml"
    tree.write(str(damaged), xml_declaration=True, encoding="UTF-8")

    (dataset,) = get_datasets(data_file, damaged)
    assert sdmx.unlisted_codes(dataset.structure.components, dataset.data) == {"REF_AREA": ["31"]}


def test_export_refuses_data_with_a_code_outside_its_codelist(sample_run, tmp_path):
    _, warehouse = sample_run
    copy = tmp_path / "indicators.duckdb"
    shutil.copy(warehouse.published_db, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute("DELETE FROM marts.training_uptake WHERE program_id = 'umkm_go_digital'")
        with pytest.raises(ValueError, match="BREAKDOWN: umkm_go_digital"):
            sdmx.messages(con)
    finally:
        con.close()
