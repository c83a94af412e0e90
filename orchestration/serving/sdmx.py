"""SDMX publication of marts.indicators: its structure (SDMX-ML 3.0: codelists, concepts, data
structure definition, dataflow) and its data (SDMX-CSV 2.1), both read from the published database."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd
from pysdmx.io import write_sdmx
from pysdmx.io.format import Format
from pysdmx.model import (
    Code,
    Codelist,
    Component,
    Components,
    Concept,
    ConceptScheme,
    Dataflow,
    DataStructureDefinition,
    DataType,
    ItemReference,
    Organisation,
    Role,
)
from pysdmx.model.message import Header

from orchestration.contracts import load_contracts
from orchestration.serving.releases import OBSERVATION_KEY
from orchestration.sql import records

AGENCY = "ID.UMKM"
VERSION = "1.0"
DATAFLOW_ID = "DF_DIGITAL_ECONOMY"
DSD_ID = "DSD_DIGITAL_ECONOMY"
CONCEPT_SCHEME_ID = "CS_DIGITAL_ECONOMY"
# How SDMX-CSV rows and other SDMX messages reference the dataflow.
STRUCTURE_ID = f"{AGENCY}:{DATAFLOW_ID}({VERSION})"

# Concept names of the components. The coded dimensions, in series-key order, then TIME_PERIOD, are
# the key; OBS_VALUE the measure; OBS_STATUS its attribute; ORIGIN and SOURCE attributes of the
# indicator (one per INDICATOR, from marts.indicator_catalog).
CONCEPT_NAMES = {
    "FREQ": "Frequency",
    "INDICATOR": "Indicator",
    "REF_AREA": "Reference area",
    "SIZE_CLASS": "UMKM size class",
    "BREAKDOWN": "Breakdown: marketplace platform or training programme",
    "UNIT_MEASURE": "Unit of measure",
    "TIME_PERIOD": "Time period",
    "OBS_VALUE": "Observation value",
    "OBS_STATUS": "Observation status",
    "ORIGIN": "Origin: a published table, or the synthetic sample",
    "SOURCE": "Source: publisher, table and release, or the synthetic sample",
}
CODED_DIMENSIONS = ("FREQ", "INDICATOR", "REF_AREA", "SIZE_CLASS", "BREAKDOWN", "UNIT_MEASURE")

# SDMX-CSV 2.1: STRUCTURE, STRUCTURE_ID, ACTION (M: merge, what SDMX 3.1 calls loading new or
# changed data), the dimensions, the measure and the attributes (its status, the indicator's origin
# and source). A value that cannot be computed is the
# SDMX intentionally missing number `NaN`; whole values (counts above all) have no trailing .0
# (below 2^53 a double is an exact integer).
DATA_QUERY = f"""
SELECT 'dataflow' AS STRUCTURE,
       '{STRUCTURE_ID}' AS STRUCTURE_ID,
       'M' AS ACTION,
       i.frequency AS FREQ,
       i.indicator_code AS INDICATOR,
       i.ref_area AS REF_AREA,
       i.size_class AS SIZE_CLASS,
       i.breakdown AS BREAKDOWN,
       i.unit_measure AS UNIT_MEASURE,
       i.time_period AS TIME_PERIOD,
       CASE WHEN i.obs_value IS NULL THEN 'NaN'
            WHEN i.obs_value = trunc(i.obs_value) AND abs(i.obs_value) < 9007199254740992 THEN i.obs_value::BIGINT::VARCHAR
            ELSE i.obs_value::VARCHAR END AS OBS_VALUE,
       i.obs_status AS OBS_STATUS,
       c.origin AS ORIGIN,
       c.source AS SOURCE
FROM marts.indicators i
LEFT JOIN marts.indicator_catalog c USING (indicator_code)
ORDER BY {", ".join(f"i.{column}" for column in OBSERVATION_KEY)}
"""


def _codelist(codelist_id: str, name: str, codes: Iterable[Code]) -> Codelist:
    return Codelist(id=codelist_id, agency=AGENCY, version=VERSION, name=name, items=list(codes))


def _labelled(labels: dict[str, dict[str, str]], code_list: str, codes: Iterable[str]) -> list[Code]:
    """Codes with their labels from marts.code_labels; a code without one is refused."""
    codes = sorted(set(codes))
    unlabelled = [code for code in codes if code not in labels.get(code_list, {})]
    if unlabelled:
        raise ValueError(f"{code_list} codes without a label in dbt_project/seeds/code_labels_seed.csv: {', '.join(unlabelled)}")
    return [Code(id=code, name=labels[code_list][code]) for code in codes]


def codelists(con: duckdb.DuckDBPyConnection) -> dict[str, Codelist]:
    """The codelist of each coded component, by component id, from the published marts: the
    catalog, the reference data and the labels of the other codes (marts.code_labels)."""
    labels: dict[str, dict[str, str]] = {}
    for code_list, code, label in con.execute("SELECT code_list, code, label FROM marts.code_labels").fetchall():
        labels.setdefault(code_list, {})[code] = label
    catalog = records(con.execute("SELECT indicator_code, indicator_name, definition, frequency, unit_measure FROM marts.indicator_catalog ORDER BY 1"))
    provinces = con.execute("SELECT bps_code, province_name FROM marts.provinces ORDER BY 1").fetchall()
    # Every platform listed, and any other whose rows were loaded (its slug names it), so each
    # platform's ONLINE_SALES has its code.
    platforms = con.execute(
        """
        SELECT platform, platform_name FROM marts.platforms
        UNION SELECT DISTINCT platform, platform FROM marts.feed_completeness
        WHERE feed = 'sales' AND rows_loaded > 0 AND platform NOT IN (SELECT platform FROM marts.platforms)
        ORDER BY 1
        """
    ).fetchall()
    programmes = con.execute("SELECT program_id, program_name FROM marts.training_uptake ORDER BY start_date, program_id").fetchall()
    return {
        "FREQ": _codelist("CL_FREQ", "Frequency", _labelled(labels, "FREQ", (row.frequency for row in catalog))),
        "INDICATOR": _codelist(
            "CL_INDICATOR", "UMKM digital-economy indicators", (Code(id=row.indicator_code, name=row.indicator_name, description=row.definition) for row in catalog)
        ),
        "REF_AREA": _codelist(
            "CL_AREA",
            "Indonesia, its provinces (BPS codes) and the retail sales survey's cities (from BPS regency codes)",
            (*_labelled(labels, "REF_AREA", labels.get("REF_AREA", {})), *(Code(id=code, name=name) for code, name in provinces)),
        ),
        "SIZE_CLASS": _codelist("CL_SIZE_CLASS", "UMKM size class", _labelled(labels, "SIZE_CLASS", load_contracts().code_lists["size_class_or_total"])),
        # _T, urban/rural classes and the retail sales survey's categories are labelled codes.
        "BREAKDOWN": _codelist(
            "CL_BREAKDOWN",
            "Marketplace platform, training programme, urban/rural class or retail sales category",
            (
                *_labelled(labels, "BREAKDOWN", labels.get("BREAKDOWN", {})),
                *(Code(id=platform, name=name, description="Marketplace platform") for platform, name in platforms),
                *(Code(id=program_id, name=name, description="Training programme") for program_id, name in programmes),
            ),
        ),
        "UNIT_MEASURE": _codelist("CL_UNIT_MEASURE", "Unit of measure", _labelled(labels, "UNIT_MEASURE", (row.unit_measure for row in catalog))),
        "OBS_STATUS": _codelist("CL_OBS_STATUS", "Observation status", _labelled(labels, "OBS_STATUS", labels.get("OBS_STATUS", {}))),
        "ORIGIN": _codelist("CL_ORIGIN", "Origin of the figures", _labelled(labels, "ORIGIN", labels.get("ORIGIN", {}))),
    }


def structures(con: duckdb.DuckDBPyConnection) -> tuple[list, Components]:
    """The artefacts of the structure message, and the components of its data structure."""
    lists = codelists(con)
    scheme = ConceptScheme(
        id=CONCEPT_SCHEME_ID,
        agency=AGENCY,
        version=VERSION,
        name="UMKM digital-economy concepts",
        items=[Concept(id=concept_id, name=name) for concept_id, name in CONCEPT_NAMES.items()],
    )

    def component(component_id: str, role: Role, **representation) -> Component:
        concept = ItemReference(sdmx_type="Concept", agency=AGENCY, id=CONCEPT_SCHEME_ID, version=VERSION, item_id=component_id)
        return Component(id=component_id, required=True, role=role, concept=concept, **representation)

    components = Components(
        [
            *(component(dim_id, Role.DIMENSION, local_codes=lists[dim_id]) for dim_id in CODED_DIMENSIONS),
            component("TIME_PERIOD", Role.DIMENSION, local_dtype=DataType.GREGORIAN_TIME_PERIOD),
            # Mandatory: a value that cannot be computed is reported as NaN, its status saying why.
            component("OBS_VALUE", Role.MEASURE, local_dtype=DataType.DOUBLE),
            component("OBS_STATUS", Role.ATTRIBUTE, local_codes=lists["OBS_STATUS"], attachment_level="O"),
            # The indicator's, the same on each of its series: attached to the INDICATOR dimension.
            component("ORIGIN", Role.ATTRIBUTE, local_codes=lists["ORIGIN"], attachment_level="INDICATOR"),
            component("SOURCE", Role.ATTRIBUTE, local_dtype=DataType.STRING, attachment_level="INDICATOR"),
        ]
    )
    name = "UMKM digital-economy indicators"
    dsd = DataStructureDefinition(id=DSD_ID, agency=AGENCY, version=VERSION, name=name, components=components)
    dataflow = Dataflow(id=DATAFLOW_ID, agency=AGENCY, version=VERSION, name=name, structure=dsd)
    return [*lists.values(), scheme, dsd, dataflow], components


def unlisted_codes(components: Components, data: pd.DataFrame) -> dict[str, list[str]]:
    """Values of coded components that are not in the component's codelist, by component id."""
    unlisted = {}
    for component in components:
        if component.enumeration is not None and component.id in data.columns:
            missing = sorted(set(data[component.id]) - {code.id for code in component.enumeration.items})
            if missing:
                unlisted[component.id] = missing
    return unlisted


def messages(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The structure message (SDMX-ML 3.0) and the data (SDMX-CSV 2.1); refuses data with a code
    that is not in its codelist."""
    artefacts, components = structures(con)
    data = con.execute(DATA_QUERY).df()
    unlisted = unlisted_codes(components, data)
    if unlisted:
        raise ValueError(
            "marts.indicators has codes that are not in their SDMX codelist: " + "; ".join(f"{component}: {', '.join(codes)}" for component, codes in unlisted.items())
        )
    # A sender id is the agency's own id, without its parent agencies (which an ID cannot hold).
    sender = Organisation(id=AGENCY.rsplit(".", 1)[-1])
    structure = write_sdmx(artefacts, Format.STRUCTURE_SDMX_ML_3_0, header=Header(sender=sender))
    return structure, data.to_csv(index=False)
