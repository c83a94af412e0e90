"""Reading the release history and the claims check, in the working or the published database:
what the last release revised, and how the published claims fare against the current release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import duckdb
import yaml

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.text import markdown_text, printable

# An observation's key (indicator_code, ref_area, size_class, breakdown, time_period), as the dbt
# project declares it for its models, tests and snapshot.
OBSERVATION_KEY: tuple[str, ...] = tuple(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]["observation_key"])

# An observation's key as the tables print it: ONLINE_SALES ID/_T/_T/2020-04.
OBSERVATION_SQL = f"{OBSERVATION_KEY[0]} || ' ' || " + " || '/' || ".join(OBSERVATION_KEY[1:])

# Observations the last release revised (a new value or status for an observation published
# before), the largest relative revision first: IDR and % do not compare in absolute terms.
LAST_RELEASE_REVISIONS_SQL = f"""
WITH last AS (SELECT max(release_from) AS release_id FROM marts.indicator_vintages)
SELECT {OBSERVATION_SQL} AS observation,
       previous_value, latest_value, latest_value - previous_value AS revision,
       round((latest_value / nullif(previous_value, 0) - 1) * 100, 4) AS revision_pct, unit_measure
FROM marts.indicator_revisions, last
WHERE latest_release = last.release_id AND versions > 1
ORDER BY abs(revision_pct) DESC NULLS LAST, abs(revision) DESC NULLS LAST, observation
"""

VERDICTS = ("consistent", "consistent_if_truncated", "inconsistent", "not_computable")


def _value(value: float | None, missing: str = "n/a") -> str:
    return missing if value is None else f"{value:,.4f}".rstrip("0").rstrip(".")


def formatted(rows: list[tuple]) -> tuple[tuple, ...]:
    """Rows with their numbers as the tables print them (up to 4 decimals, `-` for none), for the report."""
    return tuple(tuple(_value(v, "-") if v is None or isinstance(v, float) else v for v in row) for row in rows)


@dataclass(frozen=True)
class LastRelease:
    release_id: int | None
    added: int  # observations it published for the first time
    revised: list[tuple]  # (observation, previous, latest, revision, revision %, unit), largest first

    def line(self) -> str:
        if self.release_id is None:
            return "No release yet."
        added = f"{self.added:,} new observation(s)"
        if not self.revised:
            return f"Release {self.release_id}: {added}, none published before revised."
        observation, previous, latest, _, pct, unit = self.revised[0]
        change = f"{pct:+.2f} %" if pct is not None else "status changed"
        return (
            f"Release {self.release_id}: {added}, {len(self.revised):,} published before revised; the largest: "
            f"{printable(observation)} {_value(previous)} -> {_value(latest)} {unit} ({change})."
        )

    def metadata(self) -> dict[str, Any]:
        import dagster as dg

        table = ["| observation | before | now | unit | revision % |", "|---|---:|---:|---|---:|"]
        table += [f"| {markdown_text(o)} | {_value(p)} | {_value(v)} | {markdown_text(u)} | {_value(pct)} |" for o, p, v, _, pct, u in self.revised[:20]]
        return {
            "last_release": self.release_id,
            "last_release_new_observations": self.added,
            "last_release_revisions": len(self.revised),
            "last_release_summary": self.line(),
            "last_release_largest_revisions": dg.MetadataValue.md("\n".join(table) if self.revised else markdown_text(self.line())),
        }


def latest_release_revisions(con: duckdb.DuckDBPyConnection) -> LastRelease:
    release_id, added = con.execute(
        """
        WITH last AS (SELECT max(release_from) AS release_id FROM marts.indicator_vintages)
        SELECT any_value(last.release_id), count(r.first_release)
        FROM last LEFT JOIN marts.indicator_revisions r ON r.first_release = last.release_id
        """
    ).fetchall()[0]
    return LastRelease(release_id, added, con.execute(LAST_RELEASE_REVISIONS_SQL).fetchall())


CLAIMS_SQL = f"""
SELECT claim_id, {OBSERVATION_SQL},
       comparison, stated_value, unit_mult, decimals, computed_value, computed_rounded, verdict, difference, quote, release_id
FROM marts.claims_check ORDER BY claim_id
"""

# SDMX UNIT_MULT as words, for the stated figure as it was written.
UNIT_WORDS = {3: " thousand", 6: " million", 9: " billion", 12: " trillion"}


class Claim(NamedTuple):
    """A claim checked against the current release: `stated` as written, `rounded` the computed
    value as stated (in the claim's unit at its decimals)."""

    claim_id: str
    observation: str
    stated: str
    computed: float | None
    rounded: float | None
    verdict: str
    difference: float | None
    quote: str
    release_id: int


def claims(con: duckdb.DuckDBPyConnection) -> list[Claim]:
    """Every claim, checked."""
    return [
        Claim(
            claim_id,
            observation,
            f"{comparison} {stated:,.{decimals}f}{UNIT_WORDS.get(unit_mult, f' e{unit_mult}' if unit_mult else '')}",
            computed,
            rounded,
            verdict,
            difference,
            quote,
            release_id,
        )
        for claim_id, observation, comparison, stated, unit_mult, decimals, computed, rounded, verdict, difference, quote, release_id in con.execute(CLAIMS_SQL).fetchall()
    ]


def claims_table(rows: list[Claim]) -> list[str]:
    """The claims check as `make run` prints it."""
    if not rows:
        return ["No claims to check (sources/claims/claims.csv)."]
    lines = [
        f"Claims checked against release {rows[0].release_id} (as stated: the computed value in the claim's unit at its decimals, for `=`):",
        f"{'claim':<26} {'observation':<52} {'stated':>14} {'computed':>16} {'as stated':>10}  verdict",
    ]
    for c in rows:
        lines.append(f"{printable(c.claim_id):<26} {printable(c.observation):<52} {c.stated:>14} {_value(c.computed):>16} {_value(c.rounded, '-'):>10}  {c.verdict}")
    return lines


def not_consistent(rows: list[Claim]) -> list[dict[str, Any]]:
    """Every claim that is not plainly consistent, for the claims check's metadata."""
    return [
        {"claim_id": c.claim_id, "observation": c.observation, "stated": c.stated, "computed": c.computed, "verdict": c.verdict, "difference": c.difference, "quote": c.quote}
        for c in rows
        if c.verdict != "consistent"
    ]
