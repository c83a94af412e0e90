"""Fuzzed landed files: whatever a file holds, the load finishes, rejects the file or quarantines
its rows, accounts for every row, and leaves the sample's rows as they were.

Replay or widen a run with DEI_FUZZ_SEED and DEI_FUZZ_FILES; DEI_FUZZ_HUGE=1 adds a 200 MB line.
"""

import gzip
import os
import random
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from orchestration.contracts import load_contracts
from orchestration.defs.sensors import landing_state
from orchestration.ingest.load import load_feed
from tests.conftest import SAMPLE_SOURCES

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()
SALES = CONTRACTS.feeds["sales"]
SEED = int(os.environ.get("DEI_FUZZ_SEED", "20200401"))
COUNT = int(os.environ.get("DEI_FUZZ_FILES", "300"))
HUGE = os.environ.get("DEI_FUZZ_HUGE") == "1"
REPLAY = f"replay with DEI_FUZZ_SEED={SEED} DEI_FUZZ_FILES={COUNT}" + (" DEI_FUZZ_HUGE=1" if HUGE else "")
# DuckDB reads a CSV file in buffers of this size; a longer line is the case its reader got wrong.
READ_BUFFER = 32 * 1024 * 1024


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail, rather than hang, when something blocks (opening a FIFO blocks until a writer comes)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s; {REPLAY}")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def load(con: duckdb.DuckDBPyConnection, root: Path, run_id: str = "run-1"):
    """Load the feeds sales references, then sales."""
    for column in SALES.columns:
        if (reference := CONTRACTS.reference(column.rules)) is not None:
            load_feed(con, reference[0], root, run_id)
    return load_feed(con, SALES, root, run_id)


# ---------------------------------------------------------------------------------------------
# Mutations of a sample file's CSV text: each takes the bytes and a random source, returns bytes.


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 30) if out else 0):
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    return bytes(out)


def huge_field(data: bytes, rng: random.Random, size: int = 3_000_000) -> bytes:
    lines = _lines(data)
    row = rng.randrange(len(lines))
    fields = lines[row].split(b",")
    fields[rng.randrange(len(fields))] += b"9" * size
    lines[row] = b",".join(fields)
    return b"\n".join(lines)


def long_header(data: bytes, rng: random.Random) -> bytes:
    # Past the probe's 64 KiB, and past Python csv's 128 KiB field limit.
    lines = _lines(data)
    lines[0] += b",x" + b"x" * rng.randrange(64 * 1024, 300_000)
    return b"\n".join(lines)


def latin1(data: bytes, rng: random.Random) -> bytes:
    return data.decode(errors="replace").replace("pasar_", "pasar_é", rng.randint(1, 5)).encode("latin-1", "replace")


def utf16(data: bytes, rng: random.Random) -> bytes:
    return data.decode(errors="replace").encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be"]))


def swap_columns(data: bytes, rng: random.Random) -> bytes:
    i, j = rng.sample(range(len(SALES.columns)), 2)
    first = rng.choice([0, 1])  # with or without the header
    lines = _lines(data)
    for n in range(first, len(lines)):
        fields = lines[n].split(b",")
        if len(fields) > max(i, j):
            fields[i], fields[j] = fields[j], fields[i]
            lines[n] = b",".join(fields)
    return b"\n".join(lines)


def noise(data: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(1, 100_000))


def noise_after_header(data: bytes, rng: random.Random) -> bytes:
    return _lines(data)[0] + b"\n" + rng.randbytes(rng.randrange(1, 100_000))


def empty(data: bytes, rng: random.Random) -> bytes:
    return b""


def header_only(data: bytes, rng: random.Random) -> bytes:
    return _lines(data)[0] + rng.choice([b"", b"\n", b"\r\n"])


def line_ends(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"", b"\xef\xbb\xbf"]) + data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n"]))


def stray_quote(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b'"' + data[at:]


def duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    return b"\n".join(lines + rng.choices(lines, k=rng.randint(1, 20)))


def other_delimiter(data: bytes, rng: random.Random) -> bytes:
    delimiter = rng.choice([b";", b"\t", b"|"])
    return b"\n".join(line.replace(b",", delimiter) if rng.random() < 0.5 else line for line in _lines(data))


MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    truncate,
    flip_bytes,
    huge_field,
    long_header,
    latin1,
    utf16,
    swap_columns,
    noise,
    noise_after_header,
    empty,
    header_only,
    line_ends,
    stray_quote,
    duplicate_lines,
    other_delimiter,
]
# Mutations that leave most of the text as it was, so a later one still has something to work on.
TEXT_PRESERVING = [flip_bytes, truncate, swap_columns, line_ends, stray_quote, duplicate_lines, other_delimiter]

# Parquet files with another schema or other values, written by DuckDB from a sample Parquet file.
PARQUET_VARIANTS = [
    "SELECT * EXCLUDE (orders), orders FROM read_parquet($base)",  # columns out of order
    "SELECT * RENAME (gross_sales_idr AS gross_sales) FROM read_parquet($base)",
    "SELECT * EXCLUDE (orders) FROM read_parquet($base)",
    "SELECT * REPLACE (orders::VARCHAR || 'x' AS orders) FROM read_parquet($base)",
    "SELECT * REPLACE ([orders] AS orders, {'v': size_class} AS size_class) FROM read_parquet($base)",
    "SELECT * REPLACE (NULL AS merchant_id, sale_date + 400 AS sale_date) FROM read_parquet($base)",
    "SELECT *, 1 AS extra FROM read_parquet($base)",
    "SELECT * FROM read_parquet($base) LIMIT 0",
]

# Names outside the feed's name pattern: quotes, a space, non-ASCII, a line end, bytes that are not UTF-8.
ODD_NAMES = [b"fuzz_%03d'q\".csv", b"fuzz %03d.csv", b"fuzz_%03d_\xc3\xa9.csv", b"Fuzz_%03d.csv.gz", b"fuzz_%03d\n.parquet", b"fuzz_%03d_\xff.csv"]


# Paths named like a landed file that are not one.
NOT_FILES: dict[str, Callable[[bytes], None]] = {
    "directory": os.mkdir,
    "fifo": os.mkfifo,
    "symlink loop": lambda path: os.symlink(os.path.basename(path), path),
    "dangling symlink": lambda path: os.symlink(path.removesuffix(b".csv") + b"_gone.csv", path),
}


def _csv_text(base: Path) -> bytes:
    return gzip.decompress(base.read_bytes()) if base.name.endswith(".gz") else base.read_bytes()


def _mutated_text(base: Path, rng: random.Random) -> tuple[bytes, str]:
    """A sample CSV file's text after one to three mutations, and their names."""
    steps = [*rng.choices(TEXT_PRESERVING, k=rng.randint(0, 2)), rng.choice(MUTATIONS)]
    data = _csv_text(base)
    for step in steps:
        data = step(data, rng)
    return data, "+".join(step.__name__ for step in steps)


def _fuzz_file(n: int, bases: list[Path], rng: random.Random) -> tuple[Path, bytes, bytes | None, str]:
    """(sample file it comes from, file name, content or None for a path that is not a file, what was done)."""
    csv_bases = [b for b in bases if not b.name.endswith(".parquet")]
    shape = rng.random()
    if shape < 0.04:
        base = rng.choice(bases)
        return base, b"fuzz_%03d.csv" % n, None, rng.choice(list(NOT_FILES))
    if shape < 0.08:
        base = rng.choice(csv_bases)
        return base, rng.choice(ODD_NAMES) % n, _csv_text(base), "copy under a name outside the pattern"
    if shape < 0.22:
        base = rng.choice([b for b in bases if b.name.endswith(".parquet")])
        how = rng.choice(["variant", "flip_bytes", "truncate", "as_gzip_csv", "as_csv"])
        if how == "variant":
            return base, b"fuzz_%03d.parquet" % n, b"", rng.choice(PARQUET_VARIANTS)  # written by DuckDB
        if how == "as_gzip_csv":
            return base, b"fuzz_%03d.csv.gz" % n, gzip.compress(base.read_bytes()), "Parquet, gzipped, named .csv.gz"
        if how == "as_csv":
            return base, b"fuzz_%03d.csv" % n, base.read_bytes(), "Parquet named .csv"
        mutate = flip_bytes if how == "flip_bytes" else truncate
        return base, b"fuzz_%03d.parquet" % n, mutate(base.read_bytes(), rng), how
    base = rng.choice(csv_bases)
    data, how = _mutated_text(base, rng)
    container = rng.random()
    if container < 0.55:
        return base, b"fuzz_%03d.csv" % n, data, how
    if container < 0.80:
        return base, b"fuzz_%03d.csv.gz" % n, gzip.compress(data), how + ", gzipped"
    if container < 0.86:
        return base, b"fuzz_%03d.csv.gz" % n, data, how + ", not gzipped but named .csv.gz"
    if container < 0.92:
        return base, b"fuzz_%03d.csv" % n, gzip.compress(data), how + ", gzipped but named .csv"
    if container < 0.97:
        return base, b"fuzz_%03d.csv.gz" % n, rng.choice([flip_bytes, truncate])(gzip.compress(data), rng), how + ", a damaged gzip stream"
    return base, b"fuzz_%03d.parquet" % n, data, how + ", named .parquet"


def land_fuzz(root: Path, count: int, rng: random.Random) -> dict[str, str]:
    """Land `count` fuzzed files next to the sample's sales files: source_file -> what it is."""
    bases = SALES.landed_files(root)
    landed = {}
    with duckdb.connect() as con:
        for n in range(count):
            base, name, data, how = _fuzz_file(n, bases, rng)
            path = os.fsencode(base.parent) + b"/" + name
            if data is None:
                NOT_FILES[how](path)
            elif how in PARQUET_VARIANTS:
                con.sql(how, params={"base": str(base)}).write_parquet(os.fsdecode(path))
            else:
                with open(path, "wb") as f:
                    f.write(data)
            month = base.parent.relative_to(root).as_posix()
            landed[f"{month}/{name.decode('utf-8', 'backslashreplace')}"] = f"{how} (from {month}/{base.name})"
    return landed


def test_no_landed_file_crashes_a_load_or_changes_the_samples_rows(sources_copy):
    with duckdb.connect() as alone:
        load(alone, sources_copy)
        sample_files = [r[0] for r in alone.execute("SELECT source_file FROM audit.file_loads WHERE feed = 'sales' AND status = 'loaded'").fetchall()]
        sample_rows = alone.execute("SELECT * FROM raw.sales ORDER BY ALL").fetchall()
    rng = random.Random(SEED)
    fuzzed = land_fuzz(sources_copy, COUNT, rng)
    huge = f"sales/2020-04/fuzz_{COUNT:03d}.csv"
    if HUGE:
        base = (sources_copy / "sales" / "2020-04" / "pasar_a.csv").read_bytes()
        (sources_copy / huge).write_bytes(huge_field(base, rng, 200_000_000))
        fuzzed[huge] = "huge_field of 200 MB (from sales/2020-04/pasar_a.csv)"

    def shown(files) -> str:
        return f"{REPLAY}; " + "; ".join(f"{f}: {fuzzed.get(f, 'a sample file')}" for f in sorted(files)[:10])

    with duckdb.connect() as con, deadline(120 + COUNT // 5):
        try:
            load(con, sources_copy)
        except Exception as error:
            raise AssertionError(f"the load raised; {REPLAY}") from error
        sensed = landing_state(sources_copy, {})
        assert not set(fuzzed) - set(sensed), f"fuzzed files the landing sensor does not see: {shown(set(fuzzed) - set(sensed))}"
        audit = {
            r[0]: r[1:] for r in con.execute("SELECT source_file, status, rows_read, rows_loaded, rows_quarantined, error FROM audit.file_loads WHERE feed = 'sales'").fetchall()
        }
        quarantined = dict(con.execute("SELECT source_file, count(*) FROM quarantine.sales GROUP BY ALL").fetchall())
        unbalanced = [f for f, (_, read, loaded, held, _) in audit.items() if read != loaded + held or held != quarantined.get(f, 0)]
        assert not unbalanced, f"rows read <> loaded + quarantined: {shown(unbalanced)}"
        missing = [f for f in fuzzed if audit.get(f, ("",))[0] not in ("loaded", "rejected")]
        assert not missing, f"fuzzed files without a loaded or rejected audit row: {shown(missing)}"
        unnamed = [f for f in fuzzed if audit[f][0] == "rejected" and not audit[f][4].startswith(f"{f}: ")]
        assert not unnamed, f"rejections that do not name their file: {shown(unnamed)}"
        assert any(audit[f][0] == "loaded" for f in fuzzed) and any(audit[f][0] == "rejected" for f in fuzzed), REPLAY
        if HUGE:
            assert audit[huge][:2] == ("loaded", base.count(b"\n") - 1), f"the 200 MB line's file: {audit[huge]}; {REPLAY}"

        leaked = [r[0] for r in con.execute("SELECT DISTINCT source_file FROM raw.sales WHERE source_file NOT IN (SELECT unnest($sample))", {"sample": sample_files}).fetchall()]
        assert not leaked, f"rows of fuzzed files loaded: {shown(leaked)}"
        changed = con.execute("SELECT * FROM raw.sales WHERE source_file IN (SELECT unnest($sample)) ORDER BY ALL", {"sample": sample_files}).fetchall() != sample_rows
        assert not changed, f"the sample's rows differ from a load of the sample alone; {REPLAY}"


def test_a_line_longer_than_the_read_buffer_is_quarantined_not_lost(tmp_path):
    root = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES / "reference", root / "reference")
    rel = "sales/2020-04/pasar_a.csv"
    data = (SAMPLE_SOURCES / rel).read_bytes()
    (root / rel).parent.mkdir(parents=True)
    (root / rel).write_bytes(huge_field(data, random.Random(SEED), READ_BUFFER + 1000))
    # Beside another file of the month: the files are read by one statement.
    shutil.copy(SAMPLE_SOURCES / "sales/2020-04/pasar_b.csv", root / "sales/2020-04/pasar_b.csv")
    with duckdb.connect() as con:
        landed, other = load(con, root).files
        lines = con.execute("SELECT line, rule FROM quarantine.sales").fetchall()
    assert (landed.status, landed.rows_read, landed.rows_quarantined) == ("loaded", data.count(b"\n") - 1, 1)
    assert (other.status, other.rows_quarantined) == ("loaded", 0)
    assert lines[0][1] == "csv_line_size_over_maximum"
