"""Text from the data is never markup or a terminal control: file names reach the Dagster UI's
Markdown escaped and the terminal with their control characters written out."""

import re

import dagster as dg
import duckdb
import pytest

from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.audit import run_summary
from orchestration.text import markdown_text, printable
from tests.conftest import run_pipeline

# Characters a terminal acts on, or that hide what a name is: C0/C1 controls, DEL, bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

IMAGE_NAME = "![t](https:evil.example).csv"
ESCAPE_NAME = "pasar\x1b[2J\x1b]0;owned\x07\nlaporan\u202ecsv.csv"


@pytest.mark.unit
def test_printable_writes_controls_out_and_leaves_text_alone():
    assert printable("sales/2020-04/pasar_a.csv") == "sales/2020-04/pasar_a.csv"
    assert printable("Pelatihan Go Digital – UMKM ñ 東") == "Pelatihan Go Digital – UMKM ñ 東"
    assert printable("a\nb\r\x1b[31mc\x9b\u202ed\t") == "a\\nb\\r\\x1b[31mc\\x9b\\u202ed\\t"


@pytest.mark.unit
def test_markdown_text_escapes_every_markup_character():
    assert markdown_text(IMAGE_NAME) == r"\!\[t\]\(https\:evil\.example\)\.csv"
    assert markdown_text("<img src=x onerror=alert(1)> | *b* `c`") == r"\<img src\=x onerror\=alert\(1\)\> \| \*b\* \`c\`"
    assert markdown_text("a\nb") == r"a\\nb"  # one line: a row of a table stays a row


@pytest.mark.integration
def test_file_names_reach_the_ui_escaped_and_the_terminal_printable(defs, sources_copy, tmp_path):
    month = sources_copy / "sales" / "2020-04"
    for name in (IMAGE_NAME, ESCAPE_NAME):
        (month / name).write_bytes((month / "pasar_a.csv").read_bytes())
    selection = dg.AssetSelection.assets(["raw", "provinces"], ["raw", "platforms"], ["raw", "sales"])
    result = run_pipeline(defs, sources_copy, tmp_path / "wh", selection=selection, partition_key="2020-04-01")
    assert result.success

    [sales] = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "raw/sales"]
    metadata = sales.materialization.metadata
    assert metadata["files_rejected"].value == 2
    table = metadata["file_loads"].value
    rejected = [line.split(" | ")[0].removeprefix("| ") for line in table.splitlines() if " | rejected | 0 | 0 | 0 | " in line]
    # Both names are in the table, each on its own row, as literal text: no image, no link, no raw control.
    assert sorted(rejected) == [r"sales\/2020\-04\/\!\[t\]\(https\:evil\.example\)\.csv", r"sales\/2020\-04\/pasar\\x1b\[2J\\x1b\]0\;owned\\x07\\nlaporan\\u202ecsv\.csv"]
    assert len(table.splitlines()) == 2 + 4 + 2  # header, the month's four files loaded, the two rejected
    assert "![" not in table and "](" not in table and not any(RAW_CONTROL.search(line) for line in table.split("\n"))

    # The run summary `make run` prints names the files, their control characters written out.
    with duckdb.connect(str(tmp_path / "wh" / "working.duckdb"), read_only=True) as con:
        lines = run_summary(con, result.run_id).lines(str(tmp_path / "wh" / "working.duckdb"))
    rejected = [line for line in lines if line.startswith("  rejected ")]
    assert len(rejected) == 2 and not any(RAW_CONTROL.search(line) for line in lines)
    assert any(line.startswith("  rejected sales/2020-04/pasar\\x1b[2J\\x1b]0;owned\\x07\\nlaporan\\u202ecsv.csv") for line in rejected), rejected
    assert any(line.startswith(f"  rejected sales/2020-04/{IMAGE_NAME}") for line in rejected), rejected
    # The warehouse keeps the name as landed: only what is shown is escaped.
    warehouse = WarehouseResource(sources_dir=str(sources_copy), warehouse_dir=str(tmp_path / "wh"))
    with duckdb.connect(str(warehouse.working_db), read_only=True) as con:
        names = {n for (n,) in con.execute("SELECT source_file FROM audit.file_loads WHERE status = 'rejected'").fetchall()}
    assert names == {f"sales/2020-04/{IMAGE_NAME}", f"sales/2020-04/{ESCAPE_NAME}"}
