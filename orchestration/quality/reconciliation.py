"""The warehouse's figures against the publisher's own (marts.source_reconciliation): what `make run`
prints and the reconciliation check reports."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

VERDICTS = ("consistent", "inconsistent", "not_computable", "not_published")


@dataclass(frozen=True)
class Reconciliation:
    counts: dict[str, int]
    months: int
    months_consistent: int
    # Months with no figure the warehouse can compute (their bases precede the published series).
    months_not_computable: list[str]
    inconsistent: list[str]

    def line(self) -> str:
        """One line: how many of the months the publisher gives growth for reconcile."""
        if not self.months:
            return "Reconciliation with the publishers: no published growth to compare (marts.source_reconciliation is empty)."
        others = ", ".join(f"{self.counts[v]:,} {v.replace('_', ' ')}" for v in VERDICTS[1:] if self.counts.get(v))
        not_computable = self.months_not_computable
        text = (
            f"Reconciliation with Bank Indonesia: {self.months_consistent} of {self.months} months reconcile"
            + (f", {len(not_computable)} cannot be computed ({', '.join(not_computable[:3])}{' ...' if len(not_computable) > 3 else ''}: no base)" if not_computable else "")
            + (f", {len(self.inconsistent)} figure(s) inconsistent" if self.inconsistent else ", none inconsistent")
            + f" ({self.counts.get('consistent', 0):,} of {sum(self.counts.values()):,} published growth figures consistent at BI's decimals"
            + (f"; {others}" if others else "")
            + ")."
        )
        return text + (f" Inconsistent: {', '.join(self.inconsistent[:5])}{' ...' if len(self.inconsistent) > 5 else ''}" if self.inconsistent else "")


def reconciliation(con: duckdb.DuckDBPyConnection) -> Reconciliation:
    """The verdicts of marts.source_reconciliation; a month reconciles when none of its figures is
    inconsistent and one at least could be computed."""
    counts = dict(con.execute("SELECT verdict, count(*) FROM marts.source_reconciliation GROUP BY ALL").fetchall())
    months, consistent, not_computable = con.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE NOT inconsistent AND computable), coalesce(list(time_period ORDER BY time_period) FILTER (WHERE NOT computable), [])
        FROM (SELECT time_period, bool_or(verdict = 'inconsistent') AS inconsistent, bool_or(verdict = 'consistent') AS computable
              FROM marts.source_reconciliation GROUP BY time_period)
        """
    ).fetchone()
    inconsistent = [
        f"{key}: computed {computed:.4f}, published {published:.4f}"
        for key, computed, published in con.execute(
            "SELECT reconciliation_key, computed_value, published_value FROM marts.source_reconciliation WHERE verdict = 'inconsistent' ORDER BY ALL"
        ).fetchall()
    ]
    return Reconciliation(counts, months, consistent, not_computable, inconsistent)
