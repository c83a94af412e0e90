"""Where the published figures come from: each indicator's origin (a published table or the synthetic
sample) and source, from marts.indicator_catalog, said beside every figure the headline, the report
and the dashboard show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Provenance:
    origin: str  # published | synthetic
    origin_name: str  # its label in marts.code_labels
    source: str

    def caption(self) -> str:
        return f"Origin: {self.origin_name}. Source: {self.source}"


def catalog_provenance(con: duckdb.DuckDBPyConnection) -> dict[str, Provenance]:
    """Each indicator's provenance, by indicator code."""
    rows = con.execute(
        """
        SELECT c.indicator_code, c.origin, coalesce(l.label, c.origin), c.source
        FROM marts.indicator_catalog c
        LEFT JOIN marts.code_labels l ON l.code_list = 'ORIGIN' AND l.code = c.origin
        """
    ).fetchall()
    return {code: Provenance(origin, name, source) for code, origin, name, source in rows}


def captions(catalog: dict[str, Provenance], codes: Iterable[str]) -> list[str]:
    """One caption per provenance of the indicators `codes`, in their order; each names its
    indicators when they do not all share one."""
    groups: dict[Provenance, list[str]] = {}
    for code in codes:
        groups.setdefault(catalog[code], []).append(code)
    if len(groups) == 1:
        return [next(iter(groups)).caption()]
    return [f"{', '.join(group)}: {provenance.caption()}" for provenance, group in groups.items()]


def synthetic_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """What a page showing the published indicators must say first when some are synthetic."""
    (synthetic, total) = con.execute(
        "SELECT count(DISTINCT indicator_code) FILTER (c.origin = 'synthetic'), count(DISTINCT indicator_code) "
        "FROM marts.indicators i JOIN marts.indicator_catalog c USING (indicator_code)"
    ).fetchone()
    if not synthetic:
        return None
    return (
        f"{synthetic} of the {total} indicators published here are a synthetic sample: invented figures, not official "
        "statistics. Each chart's caption names the origin and source of its figures."
    )
