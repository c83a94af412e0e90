"""Deterministic generator of the landed feeds: the committed sample and benchmark-sized data.

    python -m orchestration.samplegen --out sources                 # the committed sample
    python -m orchestration.samplegen --out /tmp/big --sales-rows 10000000 --end 2021-01

The sample is calibrated to the published facts it imitates:
- national online sales in 2020-04 are exactly 5.8 x those of 2020-01 (+480 %);
- the 2020 ultra-micro population is 64,000,000 and cumulative ultra-micro onboarding by 2020-10
  (baseline included) is 9,400,000 (14.69 %);
- "UMKM Go Digital" (Kominfo and idEA, 2020-10-05 to 2020-12-12, 60 modules) has 2,500 places
  and 6,500 registrations;
- UMKM value added is 60.51 % of the 2019 GDP at current prices (Rp 15,833.9 trillion);
- the claims are the calibration report's statements of these facts.
Sales rows are drawn with numpy and written by DuckDB, so tens of millions of rows take seconds.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from orchestration.contracts import load_contracts
from orchestration.settings import REPORTING_PERIOD_FILE

SEED = 20201005
START_MONTH = "2019-01"
END_MONTH = "2020-12"
SAMPLE_SALES_ROWS = 60_000

# The landing folders this generator writes (and replaces): whatever is computed from them alone is
# synthetic, which the indicator catalog's `origin` says.
GENERATED_FOLDERS = ("sales", "onboarding", "population", "gdp", "training", "claims")

SIZE_CLASSES = list(load_contracts().code_lists["size_class"])

# Approximate 2020 census population (millions) by BPS code: spreads activity over provinces.
PROVINCE_WEIGHTS = {
    "11": 5.27,
    "12": 14.80,
    "13": 5.53,
    "14": 6.39,
    "15": 3.55,
    "16": 8.47,
    "17": 2.01,
    "18": 9.01,
    "19": 1.46,
    "21": 2.06,
    "31": 10.56,
    "32": 48.27,
    "33": 36.52,
    "34": 3.67,
    "35": 40.67,
    "36": 11.90,
    "51": 4.32,
    "52": 5.32,
    "53": 5.33,
    "61": 5.41,
    "62": 2.67,
    "63": 4.07,
    "64": 3.77,
    "65": 0.70,
    "71": 2.62,
    "72": 2.99,
    "73": 9.07,
    "74": 2.62,
    "75": 1.17,
    "76": 1.42,
    "81": 1.85,
    "82": 1.28,
    "91": 1.13,
    "94": 4.30,
}
PROVINCES = list(PROVINCE_WEIGHTS)


@dataclass(frozen=True)
class Platform:
    slug: str
    extension: str
    first_month: str
    share: float
    merchant_prefix: str


PLATFORMS = [
    Platform("pasar_a", "csv", "2019-01", 0.42, "A"),
    Platform("pasar_b", "csv", "2019-01", 0.28, "B"),
    Platform("pasar_c", "parquet", "2019-01", 0.18, "C"),
    Platform("pasar_d", "csv.gz", "2019-07", 0.12, "D"),
]

# Online merchants by size class, and how their baskets scale.
SIZE_MIX = np.array([0.55, 0.30, 0.12, 0.03])
TICKET_MULTIPLIER = np.array([1.0, 2.5, 8.0, 30.0])


def months_between(start: str, end: str) -> list[str]:
    y, m = map(int, start.split("-"))
    ey, em = map(int, end.split("-"))
    out = []
    while (y, m) <= (ey, em):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def sales_level(month: str) -> float:
    """Relative national online sales: steady growth, then the 2020 pandemic surge."""
    surge = {
        "2020-02": 1.12,
        "2020-03": 2.4,
        "2020-04": 5.8,
        "2020-05": 6.1,
        "2020-06": 6.3,
        "2020-07": 6.2,
        "2020-08": 6.5,
        "2020-09": 6.6,
        "2020-10": 6.9,
        "2020-11": 7.4,
        "2020-12": 8.1,
    }
    y, m = map(int, month.split("-"))
    if month in surge:
        return surge[month]
    if y < 2020 or month == "2020-01":
        return 1.02 ** ((y - 2020) * 12 + (m - 1))
    return 8.1 * 1.01 ** ((y - 2021) * 12 + m)  # after the sample: mild growth


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights, exactly (largest remainder)."""
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(np.int64)
    short = total - int(base.sum())
    base[np.argsort(-(raw - base), kind="stable")[:short]] += 1
    return base


def _month_days(month: str) -> int:
    y, m = map(int, month.split("-"))
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return (nxt - dt.date(y, m, 1)).days


class SalesGenerator:
    """Draws merchant-day rows per platform and month; merchant attributes are stable over time."""

    def __init__(self, total_rows: int, months: list[str], seed: int = SEED):
        self.months = months
        self.seed = seed
        active = [(mo, p) for mo in months for p in PLATFORMS if mo >= p.first_month]
        weight = {(mo, p.slug): sales_level(mo) ** 0.7 * p.share for mo, p in active}
        scale = total_rows / sum(weight.values())
        self.rows = {key: max(30, int(round(w * scale))) for key, w in weight.items()}
        self.activity = 0.35  # share of merchant-days with a sale
        max_pool = {p.slug: max(int(np.ceil(n / (_month_days(mo) * self.activity))) for (mo, slug), n in self.rows.items() if slug == p.slug) for p in PLATFORMS}
        self.merchants = {}
        prov_w = np.array(list(PROVINCE_WEIGHTS.values()))
        for i, p in enumerate(PLATFORMS):
            rng = np.random.default_rng([seed, 1, i])
            pool = max_pool[p.slug]
            self.merchants[p.slug] = (
                rng.choice(len(PROVINCES), size=pool, p=prov_w / prov_w.sum()),
                rng.choice(len(SIZE_CLASSES), size=pool, p=SIZE_MIX),
                rng.lognormal(mean=np.log(75_000), sigma=0.6, size=pool),
            )

    def draw(self, month: str, platform: Platform) -> dict[str, np.ndarray] | None:
        n = self.rows.get((month, platform.slug))
        if n is None:
            return None
        days = _month_days(month)
        pool = int(np.ceil(n / (days * self.activity)))
        rng = np.random.default_rng([self.seed, 2, PLATFORMS.index(platform), *map(int, month.split("-"))])
        cells = np.sort(rng.choice(pool * days, size=n, replace=False))
        merchant, day = np.divmod(cells, days)
        province, size, ticket = (a[merchant] for a in self.merchants[platform.slug])
        orders = 1 + rng.poisson(1.5 + size, size=n)
        rupiah = np.round(orders * ticket * TICKET_MULTIPLIER[size] * rng.uniform(0.7, 1.3, size=n), -2)
        return {
            "day": day.astype(np.int32),
            "merchant": merchant.astype(np.int64),
            "province": province.astype(np.int16),
            "size": size.astype(np.int16),
            "orders": orders.astype(np.int64),
            "cents": (rupiah * 100).astype(np.int64),
        }

    def calibrated_months(self) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """All draws, with monthly totals scaled to the sales curve and 2020-04 = 5.8 x 2020-01 exactly."""
        draws: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        for month in self.months:
            month_draws = {p.slug: d for p in PLATFORMS if (d := self.draw(month, p)) is not None}
            total = sum(int(d["cents"].sum()) for d in month_draws.values())
            target = sales_level(month) * 2.0e11  # 2 billion rupiah of sales in 2020-01, in cents
            factor = target / total
            for d in month_draws.values():
                d["cents"] = np.round(d["cents"] * factor, -2).astype(np.int64)
            draws[month] = month_draws
        if "2020-01" in draws and "2020-04" in draws:
            jan_total = self._nudge(draws["2020-01"], lambda t: (-t) % 5)
            self._nudge(draws["2020-04"], lambda t: jan_total * 29 // 5 - t)
        return draws

    @staticmethod
    def _nudge(month_draws: dict[str, dict[str, np.ndarray]], delta_of_total) -> int:
        """Add a few cents to the month's largest row so its total hits an exact figure."""
        total = sum(int(d["cents"].sum()) for d in month_draws.values())
        delta = delta_of_total(total)
        biggest = max(month_draws.values(), key=lambda d: d["cents"].max())
        biggest["cents"][biggest["cents"].argmax()] += delta
        return total + delta


def write_sales(out: Path, generator: SalesGenerator) -> int:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE provinces AS SELECT unnest(?::VARCHAR[]) AS code, generate_subscripts(?::VARCHAR[], 1) - 1 AS i", [PROVINCES, PROVINCES])
    con.execute("CREATE TEMP TABLE classes AS SELECT unnest(?::VARCHAR[]) AS code, generate_subscripts(?::VARCHAR[], 1) - 1 AS i", [SIZE_CLASSES, SIZE_CLASSES])
    written = 0
    for month, month_draws in generator.calibrated_months().items():
        folder = out / "sales" / month
        folder.mkdir(parents=True, exist_ok=True)
        for platform in PLATFORMS:
            d = month_draws.get(platform.slug)
            if d is None:
                continue
            draw = pa.table(d)  # noqa: F841  (read by DuckDB's replacement scan below)
            target = folder / f"{platform.slug}.{platform.extension}"
            options = "FORMAT parquet" if platform.extension == "parquet" else "FORMAT csv, HEADER true"
            con.execute(
                f"""
                COPY (
                    SELECT DATE '{month}-01' + draw.day AS sale_date,
                           '{platform.slug}' AS platform,
                           printf('{platform.merchant_prefix}%07d', draw.merchant) AS merchant_id,
                           p.code AS province_code,
                           c.code AS size_class,
                           draw.orders,
                           (draw.cents // 100)::VARCHAR || '.' || lpad((draw.cents % 100)::VARCHAR, 2, '0') AS gross_sales_idr
                    FROM draw
                    JOIN provinces p ON p.i = draw.province
                    JOIN classes c ON c.i = draw.size
                    ORDER BY sale_date, merchant_id
                ) TO '{target}' ({options})
                """
            )
            written += len(d["day"])
    # Parquet keeps real types: give it the contract's decimal rather than text.
    for path in (out / "sales").glob("*/*.parquet"):
        con.execute(f"COPY (SELECT * REPLACE (gross_sales_idr::DECIMAL(18,2) AS gross_sales_idr) FROM read_parquet('{path}')) TO '{path}.tmp' (FORMAT parquet)")
        Path(f"{path}.tmp").replace(path)
    return written


# Onboarding: national counts by size class; ultra-micro calibrated to 9.4 million by 2020-10.
BASELINE = {"ULTRA_MIKRO": 6_000_000, "MIKRO": 420_000, "KECIL": 160_000, "MENENGAH": 21_000}
ULTRA_MIKRO_ONBOARDED_BY_2020_10 = 9_400_000
PROGRAMS = [  # slug, first month, last month (None = open), relative monthly intensity
    ("mandiri", "2019-01", None, 1.0),
    ("gernas_bbi", "2020-05", None, 1.6),
    ("umkm_go_digital", "2020-10", "2020-12", 0.05),
]


def onboarding_counts(months: list[str]) -> dict[tuple[str, str], dict[str, int]]:
    """National new onboardings per (month, program) and size class, before the province split."""

    def intensity(month: str, program: tuple) -> float:
        slug, first, last, weight = program
        if month < first or (last and month > last):
            return 0.0
        return weight * (1.0 + 0.8 * (month >= "2020-04")) * (1.015 ** months.index(month))

    calibrated = [m for m in months if m <= "2020-10"]
    cells = [(m, p) for m in calibrated for p in PROGRAMS if intensity(m, p) > 0]
    um_total = ULTRA_MIKRO_ONBOARDED_BY_2020_10 - BASELINE["ULTRA_MIKRO"]
    um_alloc = allocate(um_total, np.array([intensity(m, p) for m, p in cells]))
    per_unit = um_total / sum(intensity(m, p) for m, p in cells)
    size_ratio = {"ULTRA_MIKRO": 1.0, "MIKRO": 0.09, "KECIL": 0.03, "MENENGAH": 0.004}
    counts: dict[tuple[str, str], dict[str, int]] = {(months[0], "baseline"): dict(BASELINE)}
    for (m, p), um in zip(cells, um_alloc, strict=True):
        counts[(m, p[0])] = {s: (int(um) if s == "ULTRA_MIKRO" else int(round(um * r))) for s, r in size_ratio.items()}
    for m in months:
        if m > "2020-10":
            for p in PROGRAMS:
                if (value := intensity(m, p)) > 0:
                    um = int(round(value * per_unit))
                    counts[(m, p[0])] = {s: int(round(um * r)) for s, r in size_ratio.items()}
    return counts


def write_onboarding(out: Path, months: list[str]) -> None:
    folder = out / "onboarding"
    folder.mkdir(parents=True, exist_ok=True)
    weights = np.array(list(PROVINCE_WEIGHTS.values()))
    by_month: dict[str, list[tuple]] = {m: [] for m in months}
    program_index = {slug: i for i, slug in enumerate(["baseline", *(p[0] for p in PROGRAMS)])}
    for (month, program), by_size in onboarding_counts(months).items():
        for s_idx, (size, total) in enumerate(by_size.items()):
            rng = np.random.default_rng([SEED, 3, *map(int, month.split("-")), s_idx, program_index[program]])
            split = allocate(total, weights * rng.uniform(0.6, 1.4, size=len(weights)))
            by_month[month] += [(month, code, size, program, int(n)) for code, n in zip(PROVINCES, split, strict=True)]
    for month, rows in by_month.items():
        with open(folder / f"{month}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["report_month", "province_code", "size_class", "program", "newly_onboarded"])
            w.writerows(sorted(rows, key=lambda r: (r[1], SIZE_CLASSES.index(r[2]), r[3])))


POPULATION = {
    2019: {"ULTRA_MIKRO": 62_106_900, "MIKRO": 1_250_400, "KECIL": 783_132, "MENENGAH": 60_702},
    2020: {"ULTRA_MIKRO": 64_000_000, "MIKRO": 1_301_250, "KECIL": 798_679, "MENENGAH": 65_465},
}


def id_thousands(n: int) -> str:
    """64000000 -> '64.000.000' (Indonesian digit grouping)."""
    return f"{n:,}".replace(",", ".")


def write_population(out: Path, provinces: list[dict[str, str]]) -> None:
    folder = out / "population"
    folder.mkdir(parents=True, exist_ok=True)
    # The sample's years know the 34 provinces of 2020, the ones with weights; the reference also
    # lists those created since.
    provinces = [p for p in provinces if p["bps_code"] in PROVINCE_WEIGHTS]
    weights = np.array([PROVINCE_WEIGHTS[p["bps_code"]] for p in provinces])
    layout = load_contracts().feeds["population"].layout
    labels = list(layout["value_columns"])
    for year, totals in POPULATION.items():
        rng = np.random.default_rng([SEED, 4, year])
        split = {s: allocate(t, weights * rng.uniform(0.8, 1.2, size=len(weights))) for s, t in totals.items()}
        lines = [
            f"Jumlah Usaha Mikro, Kecil dan Menengah (UMKM) menurut Provinsi dan Skala Usaha, {year}",
            "(unit usaha)",
            "",
            ";".join([layout["name_header"], *labels]),
        ]
        for i, prov in enumerate(provinces):
            # Official tables mix spellings: use a variant for some provinces, differently per year.
            variants = [v for v in prov["name_variants"].split("|") if v and not v.startswith("Prov.")]
            name = variants[(year + i) % len(variants)] if variants and (year + i) % 3 == 0 else prov["province_name"]
            lines.append(";".join([name, *(id_thousands(int(split[s][i])) for s in SIZE_CLASSES)]))
        lines.append(";".join([layout["national_total_label"], *(id_thousands(totals[s]) for s in SIZE_CLASSES)]))
        lines.append(f"{layout['footnote_prefix']}: Kementerian Koperasi dan UKM (data contoh, diolah)")
        (folder / f"umkm_population_{year}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


# National accounts 2019 at current prices, billions of rupiah: GDP as BPS published it (Rp 15,833.9
# trillion) and UMKM value added making the 60.51 % share the cooperatives ministry reported.
GDP = {2019: {"umkm_value_added_idr_bn": 9_581_119.2, "gdp_idr_bn": 15_833_943.4}}


def id_decimal(value: float) -> str:
    """9581119.2 -> '9.581.119,2' (Indonesian grouping and decimal mark, one decimal)."""
    whole, tenths = divmod(round(value * 10), 10)
    return f"{id_thousands(whole)},{tenths}"


def write_gdp(out: Path, provinces: list[dict[str, str]]) -> None:
    folder = out / "gdp"
    folder.mkdir(parents=True, exist_ok=True)
    provinces = [p for p in provinces if p["bps_code"] in PROVINCE_WEIGHTS]
    weights = np.array([PROVINCE_WEIGHTS[p["bps_code"]] for p in provinces])
    layout = load_contracts().feeds["gdp"].layout
    for year, totals in GDP.items():
        rng = np.random.default_rng([SEED, 6, year])
        # Tenths of a billion, allocated exactly, so that the provinces add up to the national line.
        split = {m: allocate(round(t * 10), weights * rng.uniform(0.9, 1.1, size=len(weights))) for m, t in totals.items()}
        lines = [
            f"Nilai Tambah Bruto UMKM dan Produk Domestik Regional Bruto (PDRB) menurut Provinsi, Atas Dasar Harga Berlaku, {year}",
            "(miliar rupiah)",
            "",
            ";".join([layout["name_header"], *layout["value_columns"]]),
        ]
        for i, prov in enumerate(provinces):
            lines.append(";".join([prov["province_name"], *(id_decimal(split[m][i] / 10) for m in layout["value_columns"].values())]))
        lines.append(";".join([layout["national_total_label"], *(id_decimal(totals[m]) for m in layout["value_columns"].values())]))
        lines.append(f"{layout['footnote_prefix']}: Kementerian Koperasi dan UKM; BPS (data contoh, diolah)")
        (folder / f"umkm_gdp_{year}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


TRAINING_PROGRAMS = [
    # id, name, organizer, start, end, capacity, modules, registrations
    ("pemasaran_daring_2019", "Pelatihan Pemasaran Daring UMKM", "Kementerian Koperasi dan UKM", "2019-08-05", "2019-09-27", 800, 12, 950),
    ("literasi_digital_2020", "Literasi Digital untuk Usaha Mikro", "Kementerian Koperasi dan UKM", "2020-06-15", "2020-08-14", 1500, 24, 1320),
    ("umkm_go_digital", "UMKM Go Digital", "Kominfo dan idEA", "2020-10-05", "2020-12-12", 2500, 60, 6500),
]


def write_training(out: Path) -> None:
    folder = out / "training"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "programs.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["program_id", "program_name", "organizer", "start_date", "end_date", "capacity", "modules"])
        w.writerows(p[:7] for p in TRAINING_PROGRAMS)
    weights = np.array(list(PROVINCE_WEIGHTS.values()))
    rows = []
    for k, (pid, _, _, start, _, capacity, modules, n) in enumerate(TRAINING_PROGRAMS):
        rng = np.random.default_rng([SEED, 5, k])
        opened = dt.datetime.fromisoformat(start) - dt.timedelta(days=21)
        seconds = np.sort(rng.integers(0, 21 * 86400, size=n))
        province = rng.choice(len(PROVINCES), size=n, p=weights / weights.sum())
        size = rng.choice(len(SIZE_CLASSES), size=n, p=SIZE_MIX)
        accepted = min(capacity, n)
        # The first `accepted` registrants get a place; of those some complete, some withdraw.
        status = np.array(["registered"] * n, dtype=object)
        outcome = rng.choice(["completed", "accepted", "withdrawn"], size=accepted, p=[0.62, 0.28, 0.10])
        status[:accepted] = outcome
        done = np.zeros(n, dtype=np.int64)
        done[:accepted] = np.where(outcome == "completed", modules, rng.integers(0, modules, size=accepted))
        for i in range(n):
            rows.append(
                (
                    f"R{k + 1}{i + 1:06d}",
                    pid,
                    (opened + dt.timedelta(seconds=int(seconds[i]))).isoformat(sep=" "),
                    PROVINCES[province[i]],
                    SIZE_CLASSES[size[i]],
                    status[i],
                    int(done[i]),
                )
            )
    with open(folder / "registrations.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["registration_id", "program_id", "registered_at", "province_code", "size_class", "status", "modules_completed"])
        w.writerows(rows)


# The calibration report's statements, each figure mapped to the observation it states (sources/contracts.yml, claims).
CALIBRATION_REPORT = "News report on UMKM going digital, 5 October 2020 (the sample's calibration)"
ONLINE_SHARE = "14.6 % of ultra-micro businesses are online: 9.4 million of 64 million."
GO_DIGITAL = "UMKM Go Digital drew 6,500 registrations for 2,500 places."
CLAIMS = [
    # claim_id, source, published_on, quote, indicator_code, ref_area, size_class, breakdown, time_period,
    # comparison, stated_value, unit_mult, decimals
    (
        "online_sales_april_2020",
        CALIBRATION_REPORT,
        "2020-10-05",
        "UMKM online sales in April 2020 were up 480 % on January 2020.",
        "ONLINE_SALES_GROWTH_VS_BASE",
        "ID",
        "_T",
        "_T",
        "2020-04",
        "=",
        "480",
        0,
        0,
    ),
    ("ultra_micro_online_share", CALIBRATION_REPORT, "2020-10-05", ONLINE_SHARE, "ONBOARDING_RATE", "ID", "ULTRA_MIKRO", "_T", "2020-10", "=", "14.6", 0, 1),
    ("ultra_micro_online_count", CALIBRATION_REPORT, "2020-10-05", ONLINE_SHARE, "ONBOARDED_CUMULATIVE", "ID", "ULTRA_MIKRO", "_T", "2020-10", "=", "9.4", 6, 1),
    ("ultra_micro_population", CALIBRATION_REPORT, "2020-10-05", ONLINE_SHARE, "UMKM_POPULATION", "ID", "ULTRA_MIKRO", "_T", "2020", "=", "64", 6, 0),
    ("go_digital_registrations", CALIBRATION_REPORT, "2020-10-05", GO_DIGITAL, "TRAINING_REGISTRATIONS", "ID", "_T", "umkm_go_digital", "2020", "=", "6500", 0, 0),
    ("go_digital_places", CALIBRATION_REPORT, "2020-10-05", GO_DIGITAL, "TRAINING_CAPACITY", "ID", "_T", "umkm_go_digital", "2020", "=", "2500", 0, 0),
    ("umkm_gdp_share", CALIBRATION_REPORT, "2020-10-05", "UMKM contribute more than 60 % of Indonesia's GDP.", "UMKM_GDP_SHARE", "ID", "_T", "_T", "2019", ">", "60", 0, 0),
]


def write_claims(out: Path) -> None:
    folder = out / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    columns = [c.name for c in load_contracts().feeds["claims"].columns]
    with open(folder / "claims.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(CLAIMS)


def write_platforms(out: Path) -> None:
    """The platforms the sales feed expects, from the generator's own list."""
    with open(out / "reference" / "platforms.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["platform", "platform_name", "first_month", "last_month"])
        w.writerows([p.slug, p.slug.replace("_", " ").title(), p.first_month, ""] for p in PLATFORMS)


def write_reporting_period(out: Path, start: str, end: str) -> None:
    """A generated landing zone will not grow: it declares its months (see settings.reporting_period)."""
    (out / REPORTING_PERIOD_FILE).write_text(
        "# The months this landing zone reports on (YYYY-MM), written by orchestration/samplegen.py. It\n"
        "# will not grow: its monthly partitions end with last_month, a file for another month is rejected\n"
        "# and data freshness is judged at the period's end. A production landing zone has no such file:\n"
        "# its partitions run to the current month in Asia/Jakarta and freshness is judged today.\n"
        f'first_month: "{start}"\nlast_month: "{end}"\n',
        encoding="utf-8",
    )


LANDED_AS_FOUND = (
    "reference/provinces.csv",
    "reference/bi_retail_categories.csv",
    "reference/bi_cities.csv",
    "bps/internet_access_households_by_province_2022.csv",
    "bi/survei_penjualan_eceran.xlsx",
)


def generate(out: Path, sales_rows: int = SAMPLE_SALES_ROWS, start: str = START_MONTH, end: str = END_MONTH) -> int:
    """Write every feed under `out` (its generated folders are replaced) and return the sales row count."""
    months = months_between(start, end)
    repo_sources = Path(__file__).resolve().parent.parent / "sources"
    reference = out / "reference" / "provinces.csv"
    if out.resolve() != repo_sources.resolve():
        # Landed as found, not generated: the provinces, and the published tables with their code lists.
        for rel in LANDED_AS_FOUND:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repo_sources / rel, out / rel)
    for folder in GENERATED_FOLDERS:
        shutil.rmtree(out / folder, ignore_errors=True)
    with open(reference, encoding="utf-8") as f:
        provinces = list(csv.DictReader(f))
    write_platforms(out)
    written = write_sales(out, SalesGenerator(sales_rows, months))
    write_onboarding(out, months)
    write_population(out, provinces)
    write_gdp(out, provinces)
    write_training(out)
    write_reporting_period(out, start, end)
    write_claims(out)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="landing dir to write (e.g. sources)")
    parser.add_argument("--sales-rows", type=int, default=SAMPLE_SALES_ROWS)
    parser.add_argument("--start", default=START_MONTH, help="first month, YYYY-MM")
    parser.add_argument("--end", default=END_MONTH, help="last month, YYYY-MM")
    args = parser.parse_args()
    n = generate(args.out, args.sales_rows, args.start, args.end)
    print(f"wrote {n:,} sales rows for {args.start}..{args.end} under {args.out}")


if __name__ == "__main__":
    main()
