"""Charts of the headline indicators, drawn from the marts (small aggregate queries, matplotlib).

Each chart is a PNG attached to the materialization of the mart it shows, and part of the one-page
HTML report written to $DEI_WAREHOUSE_DIR/reports/.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

import duckdb

from orchestration.atomic import replacing
from orchestration.cache import kept
from orchestration.contracts import load_contracts
from orchestration.serving.provenance import Provenance, captions, catalog_provenance
from orchestration.sql import records
from orchestration.text import markdown_text, printable

log = logging.getLogger(__name__)


@cache
def _drawing_code() -> tuple[str, str]:
    """What a chart is drawn by besides its arguments: this module and matplotlib (read at the first
    chart, not when the code location loads)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), version("matplotlib")


def drawn_once(draw: Callable[..., Chart]) -> Callable[..., Chart]:
    """A chart drawn once for the same figures and caption, in any process of this checkout: a run
    shows the same data in the marts' metadata and in the report, and most runs what the last showed."""

    @functools.wraps(draw)
    def chart(*args) -> Chart:
        return kept("charts", repr((_drawing_code(), draw.__name__, args)), lambda: draw(*args), _dump_chart, _load_chart)

    return chart


def _dump_chart(chart: Chart) -> str:
    return json.dumps({**vars(chart), "png": base64.b64encode(chart.png).decode()})


def _load_chart(text: str) -> Chart:
    fields = json.loads(text)
    return Chart(**{**fields, "png": base64.b64decode(fields["png"], validate=True)})


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    mart: str  # the mart whose materialization shows it
    png: bytes
    caption: str  # the origin and source of its figures, also drawn under the chart

    def markdown(self) -> str:
        return f"![{markdown_text(self.title)}](data:image/png;base64,{base64.b64encode(self.png).decode()})\n\n{markdown_text(self.caption)}"


@cache
def _pyplot():
    """matplotlib, imported by the steps that draw (about a second), not by every process that
    loads the code location."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    # Names and sources are data: a `$` in one is a character, never the start of mathtext.
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def _png(fig, caption: str) -> bytes:
    """The figure as PNG, its caption (origin and source) under it: the file may travel alone."""
    # Wrapped here: matplotlib's own wrapping measures text as mathtext whatever parse_math says.
    fig.text(0.01, 0.01, textwrap.fill(caption, 150), fontsize=7, color="#555555", va="bottom")
    buffer = io.BytesIO()
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(buffer, format="png", dpi=90)
    _pyplot().close(fig)
    return buffer.getvalue()


def _caption(catalog: dict[str, Provenance], *codes: str) -> str:
    return " ".join(captions(catalog, codes))


def sales_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart:
    return _draw_sales_chart(
        _caption(catalog, "ONLINE_SALES", "ONLINE_SALES_GROWTH_MOM"),
        tuple(
            con.execute(
                "SELECT strftime(sale_month, '%Y-%m'), gross_sales_idr::DOUBLE / 1e9, growth_mom_pct FROM marts.sales_growth "
                "WHERE ref_area = 'ID' AND size_class = '_T' ORDER BY sale_month"
            ).fetchall()
        ),
    )


@drawn_once
def _draw_sales_chart(caption: str, rows: tuple) -> Chart:
    months, sales, growth = zip(*rows, strict=True)
    fig, ax = _pyplot().subplots(figsize=(9, 4))
    # A month not collected is a gap with a label, never a bar at zero.
    ax.bar(months, [v if v is not None else float("nan") for v in sales], color="#4C78A8", label="Online sales (IDR billion)")
    for month, value in zip(months, sales, strict=True):
        if value is None:
            ax.text(month, 0, "not collected", rotation=90, ha="center", va="bottom", fontsize=7, color="#888888")
    ax.set_ylabel("Online sales (IDR billion)")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    right = ax.twinx()
    right.plot(months, [g if g is not None else float("nan") for g in growth], color="#E45756", marker="o", label="Month-on-month growth (%)")
    right.axhline(0, color="#999999", linewidth=0.8)
    right.set_ylabel("Month-on-month growth (%)")
    ax.set_title("National UMKM online sales and month-on-month growth")
    fig.legend(loc="upper left", bbox_to_anchor=(0.08, 0.9), fontsize=8)
    return Chart("online_sales", "National online sales and MoM growth", "sales_growth", _png(fig, caption), caption)


def onboarding_by_size_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart:
    labels = dict(con.execute("SELECT code, label FROM marts.code_labels WHERE code_list = 'SIZE_CLASS'").fetchall())
    return _draw_onboarding_by_size_chart(
        _caption(catalog, "ONBOARDING_RATE"),
        # The contract's size classes, then the total, with their labels.
        tuple((code, labels[code]) for code in load_contracts().code_lists["size_class_or_total"]),
        tuple(
            con.execute(
                "SELECT size_class, strftime(onboarded_month, '%Y-%m'), onboarding_rate_pct FROM marts.onboarding_rate WHERE ref_area = 'ID' ORDER BY size_class, onboarded_month"
            ).fetchall()
        ),
    )


@drawn_once
def _draw_onboarding_by_size_chart(caption: str, size_classes: tuple[tuple[str, str], ...], rows: tuple) -> Chart:
    fig, ax = _pyplot().subplots(figsize=(9, 4))
    for size_class, label in size_classes:
        series = [(m, r) for s, m, r in rows if s == size_class]
        if series:
            months, rates = zip(*series, strict=True)
            ax.plot(months, [r if r is not None else float("nan") for r in rates], label=label, linewidth=2.5 if size_class == "_T" else 1.5)
    ax.set_ylabel("Onboarded to digital channels (% of UMKM)")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.set_title("Digital onboarding rate by size class, Indonesia")
    ax.legend(fontsize=8)
    return Chart("onboarding_by_size_class", "Onboarding rate by size class", "onboarding_rate", _png(fig, caption), caption)


def top_provinces_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart:
    return _draw_top_provinces_chart(
        _caption(catalog, "ONBOARDING_RATE"),
        tuple(
            con.execute(
                """
        SELECT p.province_name, r.onboarding_rate_pct, strftime(r.onboarded_month, '%Y-%m')
        FROM marts.onboarding_rate r JOIN marts.provinces p ON p.bps_code = r.ref_area
        WHERE r.size_class = '_T' AND r.onboarding_rate_pct IS NOT NULL
          -- the latest month with a rate: a later one may not have been collected
          AND r.onboarded_month = (SELECT max(onboarded_month) FROM marts.onboarding_rate WHERE onboarding_rate_pct IS NOT NULL)
        ORDER BY r.onboarding_rate_pct DESC, p.province_name LIMIT 10
        """
            ).fetchall()
        ),
    )


@drawn_once
def _draw_top_provinces_chart(caption: str, rows: tuple) -> Chart:
    fig, ax = _pyplot().subplots(figsize=(9, 4))
    if not rows:
        ax.set_title("Ten provinces with the highest onboarding rate: no month has a rate yet")
        return Chart("top_provinces_onboarding", "Top ten provinces by onboarding rate", "onboarding_rate", _png(fig, caption), caption)
    names, rates, months = zip(*rows, strict=True)
    ax.barh(list(reversed(names)), list(reversed(rates)), color="#54A24B")
    ax.set_xlabel("Onboarded to digital channels (% of UMKM, all size classes)")
    ax.set_title(f"Ten provinces with the highest onboarding rate, {months[0]}")
    for y, rate in enumerate(reversed(rates)):
        ax.text(rate, y, f" {rate:.1f}", va="center", fontsize=8)
    return Chart("top_provinces_onboarding", "Top ten provinces by onboarding rate", "onboarding_rate", _png(fig, caption), caption)


def training_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart:
    rows = con.execute("SELECT program_name, registrations, capacity FROM marts.training_uptake ORDER BY start_date").fetchall()
    return _draw_training_chart(_caption(catalog, "TRAINING_REGISTRATIONS", "TRAINING_CAPACITY"), tuple(rows))


@drawn_once
def _draw_training_chart(caption: str, rows: tuple) -> Chart:
    names, registrations, capacity = zip(*rows, strict=True)
    positions = range(len(names))
    fig, ax = _pyplot().subplots(figsize=(9, 4))
    ax.bar([p - 0.2 for p in positions], registrations, width=0.4, label="Registrations", color="#F58518")
    ax.bar([p + 0.2 for p in positions], capacity, width=0.4, label="Capacity (places)", color="#72B7B2")
    ax.set_xticks(list(positions), names, fontsize=8)
    ax.set_ylabel("People")
    ax.set_title("Training registrations against capacity, by programme")
    ax.legend(fontsize=8)
    return Chart("training_registrations", "Training registrations against capacity", "training_uptake", _png(fig, caption), caption)


RETAIL_SALES_SQL = """
SELECT time_period,
       max(obs_value) FILTER (indicator_code = 'RETAIL_SALES_INDEX'),
       max(obs_status) FILTER (indicator_code = 'RETAIL_SALES_INDEX'),
       max(obs_value) FILTER (indicator_code = 'RETAIL_SALES_GROWTH_YOY')
FROM marts.indicators
WHERE indicator_code IN ('RETAIL_SALES_INDEX', 'RETAIL_SALES_GROWTH_YOY') AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T'
GROUP BY time_period
-- the index's months: growth before its first month (or after its last) has nothing to compare
HAVING count(*) FILTER (indicator_code = 'RETAIL_SALES_INDEX') > 0
ORDER BY time_period
"""


def retail_sales_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart | None:
    """Bank Indonesia's real sales index, national total, with its year-on-year growth; None
    without the index."""
    rows = tuple(con.execute(RETAIL_SALES_SQL).fetchall())
    return _draw_retail_sales_chart(_caption(catalog, "RETAIL_SALES_INDEX", "RETAIL_SALES_GROWTH_YOY"), rows) if rows else None


@drawn_once
def _draw_retail_sales_chart(caption: str, rows: tuple) -> Chart:
    months, index, status, growth = zip(*rows, strict=True)
    positions = range(len(months))
    fig, ax = _pyplot().subplots(figsize=(9, 4))
    ax.bar(positions, [g if g is not None else float("nan") for g in growth], color="#9ecae1", label="Year-on-year growth (%)")
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_ylabel("Year-on-year growth (%)")
    right = ax.twinx()
    right.plot(positions, [v if v is not None else float("nan") for v in index], color="#08519c", label="Real sales index")
    # A provisional month (SDMX status P) is marked as such, not shown as final.
    provisional = [(p, v) for p, v, s in zip(positions, index, status, strict=True) if s == "P" and v is not None]
    if provisional:
        right.plot(*zip(*provisional, strict=True), linestyle="none", marker="o", markerfacecolor="white", color="#08519c", label="Provisional")
    right.set_ylabel("Real sales index")
    step = max(1, len(months) // 12)
    ax.set_xticks(list(positions)[::step], months[::step], rotation=90, fontsize=7)
    ax.set_title(f"Retail sales, Indonesia: real sales index and year-on-year growth, {months[0]} to {months[-1]}")
    fig.legend(loc="upper left", bbox_to_anchor=(0.08, 0.9), fontsize=8)
    return Chart("retail_sales", "Retail sales index and its year-on-year growth", "indicators", _png(fig, caption), caption)


INTERNET_ACCESS_SQL = """
SELECT i.ref_area, coalesce(p.province_name, i.ref_area) AS area_name, i.obs_value, i.obs_status, i.time_period
FROM marts.indicators i LEFT JOIN marts.provinces p ON p.bps_code = i.ref_area
WHERE i.indicator_code = 'HH_INTERNET_ACCESS' AND i.size_class = '_T' AND i.breakdown = '_T'
  AND i.period_start = (SELECT max(period_start) FROM marts.indicators WHERE indicator_code = 'HH_INTERNET_ACCESS')
ORDER BY i.ref_area = 'ID' DESC, i.obs_value NULLS FIRST, 2
"""


def internet_access_chart(con: duckdb.DuckDBPyConnection, catalog: dict[str, Provenance]) -> Chart | None:
    """Households using the internet by province in the latest year, BPS's national figure as a
    line (a percentage is never the provinces' sum); None without the indicator."""
    rows = tuple(records(con.execute(INTERNET_ACCESS_SQL)))
    return _draw_internet_access_chart(_caption(catalog, "HH_INTERNET_ACCESS"), rows) if rows else None


@drawn_once
def _draw_internet_access_chart(caption: str, rows: tuple) -> Chart:
    national = [row.obs_value for row in rows if row.ref_area == "ID"]
    provinces = [row for row in rows if row.ref_area != "ID"]
    year = rows[0].time_period
    fig, ax = _pyplot().subplots(figsize=(9, 2 + 0.22 * len(provinces)))
    names = [row.area_name for row in provinces]
    ax.barh(names, [row.obs_value if row.obs_value is not None else float("nan") for row in provinces], color="#3182bd")
    for y, value, status in ((y, row.obs_value, row.obs_status) for y, row in enumerate(provinces)):
        # A province without a figure is said to have none, never drawn at zero.
        label = f" {value:.1f}" if value is not None else f" no figure (status {status})"
        ax.text(value or 0, y, label, va="center", fontsize=7, color="#222222" if value is not None else "#888888")
    if national and national[0] is not None:
        ax.axvline(national[0], color="#E45756", linewidth=1.2, label=f"Indonesia {national[0]:.2f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlim(0, 105)
    ax.set_xlabel("Households that used the internet in the last 3 months (%)")
    ax.set_title(f"Household internet access by province, {year}")
    return Chart("internet_access_by_province", f"Household internet access by province, {year}", "indicators", _png(fig, caption), caption)


def headline_charts(con: duckdb.DuckDBPyConnection) -> list[Chart]:
    """The charts of the sample's headline indicators, then those of the published tables that
    have rows, each captioned with the origin and source of its figures."""
    catalog = catalog_provenance(con)
    charts = []
    for draw in (sales_chart, onboarding_by_size_chart, top_provinces_chart, training_chart, retail_sales_chart, internet_access_chart):
        # A chart never blocks the data it shows: one that cannot be drawn is left out, and said.
        try:
            charts.append(draw(con, catalog))
        except Exception as error:  # noqa: BLE001 (whatever a plotting library raises)
            log.warning("chart %s not drawn: %s", draw.__name__, printable(str(error)))
    return [chart for chart in charts if chart]


@dataclass(frozen=True)
class Section:
    """A section of the report after the charts: a heading, a paragraph and a table."""

    heading: str
    text: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()

    def html(self) -> str:
        table = ""
        if self.rows:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in self.rows)
            table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f"<section><h2>{html.escape(self.heading)}</h2><p>{html.escape(self.text)}</p>{table}</section>"


def write_report(charts: list[Chart], reports_dir: Path, subtitle: str, notes: list[str], sections: list[Section] = ()) -> Path:
    """PNG files and a one-page HTML report (images inline, so the page travels alone), with
    `notes` (what the reader must know first, e.g. inputs not collected) under the title and
    `sections` after the charts."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        (reports_dir / f"{chart.name}.png").write_bytes(chart.png)
    figures = "\n".join(
        f'<figure><img alt="{html.escape(c.title)}" src="data:image/png;base64,{base64.b64encode(c.png).decode()}">'
        f"<figcaption>{html.escape(c.title)} (mart <code>marts.{c.mart}</code>). {html.escape(c.caption)}</figcaption></figure>"
        for c in charts
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>UMKM digital-economy indicators</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}figure{{margin:2em 0}}img{{max-width:100%}}
table{{border-collapse:collapse;font-size:90%}}td,th{{border-bottom:1px solid #ddd;padding:.2em .5em;text-align:left}}</style>
</head><body>
<h1>UMKM digital-economy indicators</h1>
<p>{html.escape(subtitle)}</p>
{"".join(f'<p class="note"><strong>{html.escape(note)}</strong></p>' for note in notes)}
{figures}
{"".join(section.html() for section in sections)}
</body></html>
"""
    target = reports_dir / "index.html"
    with replacing(target) as staging:
        staging.write_text(page, encoding="utf-8")
    return target
