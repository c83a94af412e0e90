"""The contracts file is the single source of truth: it parses, it is consistent, and what is derived from it is in sync."""

import csv

import pytest

from orchestration.contracts import _parse, load_contracts
from orchestration.settings import REPO_ROOT


def test_every_feed_has_sample_files():
    for feed in load_contracts().feeds.values():
        assert feed.landed_files(REPO_ROOT / "sources"), feed.name


def test_province_reference_is_the_34_provinces_of_2020():
    with open(REPO_ROOT / "sources" / "reference" / "provinces.csv", encoding="utf-8") as f:
        rows = {r["bps_code"]: r for r in csv.DictReader(f)}
    assert len(rows) == 34
    assert rows["31"]["province_name"] == "DKI Jakarta"
    assert rows["94"]["province_name"] == "Papua" and rows["94"]["kemendagri_code"] == "91"
    assert rows["91"]["province_name"] == "Papua Barat" and rows["91"]["kemendagri_code"] == "92"
    assert all(r["kemendagri_code"] == code for code, r in rows.items() if code not in ("91", "94"))
    assert "D.K.I. Jakarta" in rows["31"]["name_variants"].split("|")
    assert {"DI Yogyakarta", "Daerah Istimewa Yogyakarta"} <= {rows["34"]["province_name"], *rows["34"]["name_variants"].split("|")}
    assert "Kep. Bangka Belitung" in rows["19"]["name_variants"].split("|")
    assert rows["21"]["province_name"] == "Kepulauan Riau"


def _document(**column_rules):
    return {
        "code_lists": {"size_class": ["A"]},
        "feeds": {
            "f": {
                "title": "t", "description": "d", "files": ["f/*.csv"], "format": "csv", "key": ["a"],
                "columns": [{"name": "a", "type": "VARCHAR", "description": "a", "rules": column_rules}],
            }
        },
    }


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"minimum": 0}, "unknown rules"),
        ({"accepted_values": "colours"}, "unknown code list"),
        ({"references": "nowhere.x"}, "unknown reference"),
        ({"in_file_month": True}, "needs a path_pattern"),
    ],
)
def test_inconsistent_contracts_are_refused(rules, message):
    with pytest.raises(ValueError, match=message):
        _parse(_document(**rules))


def test_sales_paths_encode_month_and_platform():
    sales = load_contracts().feeds["sales"]
    assert sales.path_fields("sales/2020-04/pasar_b.csv.gz") == {"month": "2020-04", "platform": "pasar_b"}
    with pytest.raises(ValueError, match="does not follow"):
        sales.path_fields("sales/April/pasar_b.csv")
