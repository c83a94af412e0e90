"""The contracts file is the single source of truth: it parses, it is consistent, and what is derived from it is in sync."""

import csv

import pytest
import yaml

from orchestration.contracts import ContractError, load_contracts
from orchestration.contracts.spec import _parse
from orchestration.settings import CONTRACTS_FILE, REPO_ROOT

pytestmark = pytest.mark.unit


def test_every_feed_has_sample_files():
    for feed in load_contracts().feeds.values():
        assert feed.landed_files(REPO_ROOT / "sources"), feed.name


def test_province_reference_holds_the_provinces_since_2019():
    with open(REPO_ROOT / "sources" / "reference" / "provinces.csv", encoding="utf-8") as f:
        rows = {r["bps_code"]: r for r in csv.DictReader(f)}
    assert len(rows) == 38
    of_2019 = {code: r for code, r in rows.items() if not r["valid_from"]}
    assert len(of_2019) == 34 and not any(r["split_from"] for r in of_2019.values())
    assert not any(r["valid_to"] for r in rows.values())
    assert rows["31"]["province_name"] == "DKI Jakarta"
    # Papua and Papua Barat keep their codes (and BPS and Kemendagri differ for every Papua province).
    assert rows["94"]["province_name"] == "Papua" and rows["94"]["kemendagri_code"] == "91"
    assert rows["91"]["province_name"] == "Papua Barat" and rows["91"]["kemendagri_code"] == "92"
    assert all(r["kemendagri_code"] == code for code, r in rows.items() if code[0] != "9")
    assert "D.K.I. Jakarta" in rows["31"]["name_variants"].split("|")
    assert {"DI Yogyakarta", "Daerah Istimewa Yogyakarta"} <= {rows["34"]["province_name"], *rows["34"]["name_variants"].split("|")}
    assert "Kep. Bangka Belitung" in rows["19"]["name_variants"].split("|")
    assert rows["21"]["province_name"] == "Kepulauan Riau"
    # ISO 3166-2:ID, as map tools key provinces: one code each, the four provinces of 2022 included.
    assert len({r["iso_3166_2"] for r in rows.values()}) == 38
    assert (rows["31"]["iso_3166_2"], rows["34"]["iso_3166_2"], rows["65"]["iso_3166_2"]) == ("ID-JK", "ID-YO", "ID-KU")
    papua = {rows[code]["province_name"]: rows[code]["iso_3166_2"] for code in ("91", "92", "94", "95", "96", "97")}
    assert papua == {"Papua Barat": "ID-PB", "Papua Barat Daya": "ID-PD", "Papua": "ID-PA", "Papua Selatan": "ID-PS", "Papua Tengah": "ID-PT", "Papua Pegunungan": "ID-PE"}


# Every number has a range (a BIGINT column without one is refused below).
RANGE = {"min": 0, "max": 100}


def _document(feed=None, column=None, **rules):
    """A one-feed contracts document, with the feed's and its column's keys replaced or added."""
    return {
        "code_lists": {"size_class": ["A"]},
        "feeds": {
            "f": {
                "title": "t",
                "description": "d",
                "files": ["f/*.csv"],
                "format": "csv",
                "key": ["amount"],
                "columns": [{"name": "amount", "type": "BIGINT", "description": "a", "rules": {**RANGE, **rules}, **(column or {})}],
                **(feed or {}),
            }
        },
    }


MONTH_FILES = r"f/(?P<month>[0-9]{4}-[0-9]{2})\.csv"
ALL_RULES = "required, min, max, plausible, accepted_values, pattern, references, valid_in_period, in_file_month, from_path"


@pytest.mark.parametrize(
    "document, problem",
    [
        (_document(column={"rule": {"min": 0}}), "feed f, column amount: unknown key 'rule' (allowed: name, type, description, rules)"),
        (
            _document(column={"type": "BIGNIT"}),
            "feed f, column amount: type: 'BIGNIT' is not one of VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN, DATE, TIMESTAMP, DECIMAL(p,s)",
        ),
        (
            _document(column={"type": "DECIMAL(18,20)"}),
            "feed f, column amount: type: 'DECIMAL(18,20)' needs a precision p from 1 to 38 and a scale s from 0 to p",
        ),
        (_document(minimum=0), f"feed f, column amount: rules: unknown key 'minimum' (allowed: {ALL_RULES})"),
        (_document(min="0"), "feed f, column amount: rules.min: '0' is not a number"),
        (_document(min=None, max=None), "feed f, column amount: rules: a BIGINT column needs a range: `min` or `plausible.min` and `max` or `plausible.max`"),
        (_document(max=None), "feed f, column amount: rules: a BIGINT column needs a range: `max` or `plausible.max`"),
        (
            _document(column={"type": "DECIMAL(18,2)"}, max=None, plausible={"min": 1, "reason": "r"}),
            "feed f, column amount: rules: a DECIMAL(18,2) column needs a range: `max` or `plausible.max`",
        ),
        (_document(max=None, plausible={"max": 10}), "feed f, column amount: rules.plausible: missing key 'reason'"),
        (_document(plausible={"reason": "r"}), "feed f, column amount: rules.plausible: needs `min`, `max` or both"),
        (_document(plausible={"min": 5, "max": 1, "reason": "r"}), "feed f, column amount: rules.plausible: min 5 is above max 1"),
        (_document(plausible={"max": 5, "reason": " "}), "feed f, column amount: rules.plausible: needs a `reason` saying why the range is plausible"),
        (
            _document(feed={"paths": ["f/*.csv"]}),
            "feed f: unknown key 'paths' (allowed: title, description, files, format, key, columns, path_pattern, layout, publisher, licence)",
        ),
        (_document(feed={"format": "xml"}), "feed f: format: Input should be 'csv', 'ministry_table' or 'official_table'"),
        (_document(feed={"format": "ministry_table"}), "feed f: layout: required for format ministry_table"),
        (_document(feed={"key": ["id"]}), "feed f: key: 'id' is not a column (columns: amount)"),
        (
            _document(feed={"path_pattern": MONTH_FILES}, from_path="platform"),
            "feed f, column amount: rules.from_path: needs a path_pattern with a group named 'platform' (groups: month)",
        ),
        (
            _document(from_path="platform"),
            "feed f, column amount: rules.from_path: needs a path_pattern with a group named 'platform' (the feed has no path_pattern)",
        ),
        (
            _document(accepted_values="colours"),
            "feed f, column amount: rules.accepted_values: unknown code list 'colours' (code lists: size_class)",
        ),
        (
            _document(pattern="[0-9"),
            "feed f, column amount: rules.pattern: '[0-9' is not a regular expression (unterminated character set at position 0)",
        ),
        (
            _document(references="nowhere.x"),
            "feed f, column amount: rules.references: unknown reference 'nowhere.x' (<feed>.<column>; feeds: f)",
        ),
        (
            _document(in_file_month=True),
            "feed f, column amount: rules.in_file_month: needs a path_pattern with a group named 'month' (the feed has no path_pattern)",
        ),
        (_document(valid_in_period="week"), "feed f, column amount: rules.valid_in_period: Input should be 'month' or 'year'"),
        (
            _document(feed={"path_pattern": MONTH_FILES}, references="f.amount", valid_in_period="year"),
            "feed f, column amount: rules.valid_in_period: needs a path_pattern with a group named 'year' (groups: month)",
        ),
        (
            _document(feed={"path_pattern": MONTH_FILES}, valid_in_period="month"),
            "feed f, column amount: rules.valid_in_period: needs a `references` rule naming the rows whose validity it checks",
        ),
    ],
)
def test_inconsistent_contracts_are_refused(document, problem):
    with pytest.raises(ContractError) as refused:
        _parse(document)
    assert str(refused.value).splitlines() == [f"sources/contracts.yml: {problem}"]


def test_valid_in_period_needs_the_referenced_feed_to_have_validity_dates():
    with pytest.raises(ContractError) as refused:
        _parse(_document(feed={"path_pattern": MONTH_FILES}, references="f.amount", valid_in_period="month"))
    assert str(refused.value).splitlines() == [
        f"sources/contracts.yml: feed f, column amount: rules.valid_in_period: needs a DATE column `{name}` in f" for name in ("valid_from", "valid_to")
    ]


def test_every_problem_is_reported_on_its_own_line():
    with pytest.raises(ContractError) as refused:
        _parse(_document(column={"type": "BIGNIT"}, feed={"paths": []}, minimum=0))
    problems = str(refused.value).splitlines()
    assert len(problems) == 3
    for expected in ("feed f: unknown key 'paths'", "feed f, column amount: type: 'BIGNIT'", "feed f, column amount: rules: unknown key 'minimum'"):
        assert any(p.startswith(f"sources/contracts.yml: {expected}") for p in problems), expected


def test_a_valid_document_keeps_only_the_rules_given():
    contracts = _parse(_document(feed={"path_pattern": MONTH_FILES}, max=None, plausible={"max": 9, "reason": "r"}, in_file_month=True))
    assert contracts.feeds["f"].column("amount").rules == {"min": 0, "plausible": {"max": 9, "reason": "r"}, "in_file_month": True}
    assert contracts.feeds["f"].layout == {}


def test_the_contracts_file_loads():
    contracts = _parse(yaml.safe_load(CONTRACTS_FILE.read_text(encoding="utf-8")), CONTRACTS_FILE)
    assert set(contracts.feeds["population"].layout["value_columns"].values()) == set(contracts.code_lists["size_class"])


def test_sales_paths_encode_month_and_platform():
    sales = load_contracts().feeds["sales"]
    assert sales.path_fields("sales/2020-04/pasar_b.csv.gz") == {"month": "2020-04", "platform": "pasar_b"}
    with pytest.raises(ValueError, match="does not follow"):
        sales.path_fields("sales/April/pasar_b.csv")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name_column": "province"}, "feed population: layout: fills 'province', which is not a column"),
        (
            {"unpivot": None, "value_columns": {"Usaha Mikro": "enterprises"}},
            "feed population: layout: leaves column 'size_class' unfilled: the table does not fill it and the path_pattern has no group 'size_class'",
        ),
        ({"name_lookup": ["province_name", "nama"]}, "feed population: layout.name_lookup: 'nama' is not a column of provinces"),
        ({"name_column": "size_class"}, "feed population: layout.name_column: needs a `references` rule"),
    ],
)
def test_a_ministry_table_layout_must_fill_the_contract_from_the_table_and_the_path(change, message):
    document = yaml.safe_load(CONTRACTS_FILE.read_text(encoding="utf-8"))
    layout = document["feeds"]["population"]["layout"]
    layout.update(change)
    if layout["unpivot"] is None:
        del layout["unpivot"]
    with pytest.raises(ContractError) as error:
        _parse(document)
    assert message in str(error.value)
