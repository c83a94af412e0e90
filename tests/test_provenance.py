"""Every number says where it came from: the catalog's origin and source, and where they are shown."""

import pytest

from orchestration.docs import indicator_catalog
from orchestration.samplegen import GENERATED_FOLDERS

SYNTHETIC_SOURCE = (
    "Synthetic sample (orchestration/samplegen.py), calibrated to a news report on UMKM going digital of "
    "5 October 2020; not official statistics"
)


@pytest.mark.parametrize("row", indicator_catalog(), ids=lambda row: row["indicator_code"])
def test_an_indicator_is_synthetic_exactly_when_the_sample_generator_writes_its_feeds(row):
    feeds = {feed.strip() for feed in row["source_feeds"].split(",")}
    if feeds <= set(GENERATED_FOLDERS):
        assert (row["origin"], row["source"]) == ("synthetic", SYNTHETIC_SOURCE)
    else:
        assert row["origin"] == "published"
        assert row["source"] and not row["source"].startswith("Synthetic sample")


def test_the_sample_indicators_are_all_synthetic():
    synthetic = {row["indicator_code"] for row in indicator_catalog() if row["origin"] == "synthetic"}
    assert {"ONLINE_SALES", "ONBOARDING_RATE", "UMKM_POPULATION", "UMKM_GDP_SHARE", "TRAINING_REGISTRATIONS"} <= synthetic
