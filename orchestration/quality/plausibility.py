"""Published online sales that no earlier month makes plausible, and the sales rows that carry them.

A month's change in a headline series (national, and each size class) is judged twice:
- against the cross-section: what the series moved beyond the median province's change that month
  (its own change, in logs). A change every province shares (the 2020 pandemic's +114 % and +142 %
  in March and April, a new platform) is the market's; a few absurd rows move their series, and
  the national total through it, while the median province stays where it was.
- against the series' history: its own change must be beyond CHANGE_FACTOR times the largest own
  change of its earlier months (at least MIN_HISTORY of them), and at least MIN_OWN_CHANGE.
The largest rows of the month that carries the change (the month itself for a rise, the one
before for a fall) are named, with their file, day, merchant and share of the series' month.

Province series are not judged: with a few merchants each, a single merchant's arrival moves a
province's sales ninefold in a month (the sample has such months), so its history says nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from orchestration.text import markdown_text

# On the sample, the largest own change of a headline series is 1.8 times the largest before it (the
# ultra-micro series in March 2020, +146 % while the median province rose +67 %): 4 leaves room for
# real data and still flags a month carried by a few rows (two merchant-days at the contract's
# plausible maximum move June 2020's national sales ninefold: 8.6 times the largest before).
CHANGE_FACTOR = 4.0
# Own changes below a doubling (or halving) are never flagged, however calm the history.
MIN_OWN_CHANGE = math.log(2)
# A year of earlier changes before a series' months are judged.
MIN_HISTORY = 12
# The rows named for a flagged month.
TOP_ROWS = 3

FLAGGED_SQL = f"""
WITH changes AS (
    SELECT ref_area, size_class, aggregation_level, sale_month, gross_sales_idr, sales_previous_month, growth_mom_pct,
           ln(gross_sales_idr / sales_previous_month) AS change
    FROM marts.sales_growth
    WHERE gross_sales_idr > 0 AND sales_previous_month > 0
),
cross_section AS (
    SELECT sale_month, median(change) AS province_change FROM changes WHERE aggregation_level = 'province' GROUP BY sale_month
),
own AS (
    SELECT c.*, x.province_change, c.change - x.province_change AS own_change
    FROM changes c JOIN cross_section x USING (sale_month)
    WHERE c.aggregation_level IN ('national', 'size_class')
),
judged AS (
    SELECT *, max(abs(own_change)) OVER earlier AS largest_before, count(*) OVER earlier AS months_before
    FROM own
    WINDOW earlier AS (PARTITION BY ref_area, size_class ORDER BY sale_month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
flagged AS (
    SELECT *, CASE WHEN own_change > 0 THEN sale_month ELSE sale_month - INTERVAL 1 MONTH END AS carried_by
    FROM judged
    WHERE months_before >= {MIN_HISTORY} AND abs(own_change) > greatest({CHANGE_FACTOR} * largest_before, {MIN_OWN_CHANGE})
),
rows AS (
    SELECT f.ref_area, f.size_class, f.sale_month, s.source_file, s.sale_date, s.merchant_id, s.gross_sales_idr,
           s.gross_sales_idr / sum(s.gross_sales_idr) OVER (PARTITION BY f.ref_area, f.size_class, f.sale_month) AS share,
           row_number() OVER (PARTITION BY f.ref_area, f.size_class, f.sale_month ORDER BY s.gross_sales_idr DESC, s.source_file, s.merchant_id) AS rank
    FROM flagged f JOIN raw.sales s
      ON date_trunc('month', s.sale_date) = f.carried_by AND (f.size_class = '_T' OR s.size_class = f.size_class)
),
named AS (
    SELECT f.ref_area, f.size_class, strftime(f.sale_month, '%Y-%m') AS month, f.gross_sales_idr::DOUBLE AS sales, f.growth_mom_pct,
           f.province_change, f.own_change, f.largest_before, f.months_before, strftime(f.carried_by, '%Y-%m') AS carried_by,
           list(struct_pack(source_file := r.source_file, sale_date := strftime(r.sale_date, '%Y-%m-%d'), merchant_id := r.merchant_id,
                            gross_sales_idr := r.gross_sales_idr::VARCHAR, share := r.share::DOUBLE) ORDER BY r.rank) AS top_rows
    FROM flagged f
    LEFT JOIN rows r ON r.ref_area = f.ref_area AND r.size_class = f.size_class AND r.sale_month = f.sale_month AND r.rank <= {TOP_ROWS}
    GROUP BY ALL
)
SELECT * FROM named
ORDER BY month, ref_area, size_class <> '_T', size_class
"""


@dataclass(frozen=True)
class Implausible:
    """A published month of a series that no earlier month makes plausible, and the rows that carry it."""

    series: str  # ref_area/size_class
    month: str
    sales: float
    growth_mom_pct: float | None
    province_change: float
    own_change: float
    largest_before: float
    months_before: int
    carried_by: str
    top_rows: list[dict[str, Any]]

    def describe(self) -> str:
        # Shown as Markdown in the UI: a merchant id is the feed's text (any characters), so it is escaped;
        # file names are held to the contract's path pattern.
        growth = "n/a" if self.growth_mom_pct is None else f"{self.growth_mom_pct:+,.1f} %"
        allowed = max(CHANGE_FACTOR * self.largest_before, MIN_OWN_CHANGE)
        rows = "; ".join(
            f"{r['source_file']} {r['sale_date']} merchant {markdown_text(r['merchant_id'])} gross_sales_idr {Decimal(r['gross_sales_idr']):,.2f} ({r['share']:.1%})"
            for r in self.top_rows
        )
        return (
            f"{self.series} {self.month}: online sales IDR {self.sales / 1e9:,.2f} bn, MoM {growth} while the median province moved "
            f"{math.expm1(self.province_change):+.1%}: ×{math.exp(abs(self.own_change)):,.1f} beyond it, where its {self.months_before} "
            f"earlier months were at most ×{math.exp(self.largest_before):,.2f} (flagged beyond ×{math.exp(allowed):,.2f}); "
            f"largest rows of {self.carried_by}: {rows or 'none'}"
        )


def implausible_months(con: duckdb.DuckDBPyConnection) -> list[Implausible]:
    """The flagged months of the headline sales series in marts.sales_growth, oldest first."""
    return [
        Implausible(f"{area}/{size}", month, sales, growth, province, own, before, n, carried, top or [])
        for area, size, month, sales, growth, province, own, before, n, carried, top in con.execute(FLAGGED_SQL).fetchall()
    ]
