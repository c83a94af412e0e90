"""Rendered files (dbt sources, contract tables, indicator catalog) match their single source."""

import pytest

from orchestration.cli.render import rendered
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path, text", list(rendered().items()), ids=lambda v: str(v.relative_to(REPO_ROOT)) if hasattr(v, "relative_to") else "")
def test_rendered_file_is_up_to_date(path, text):
    assert path.read_text(encoding="utf-8") == text, f"{path.relative_to(REPO_ROOT)} is stale: run `make render`"
