"""Where a feed's landed files are and what their paths say: the month a file is for, its hash.

The load, the landed-files sensor, the partitions and the run fingerprint all read files this way.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from orchestration import settings
from orchestration.contracts import FeedContract
from orchestration.sql import sql_literal


@dataclass(frozen=True)
class LandedFile:
    path: Path
    source_file: str  # relative to the sources dir
    sha256: str
    month: str | None


def relative(path: Path, sources_dir: Path) -> str:
    """A landed path's `source_file`: relative to the sources dir, as UTF-8 text even when the name's
    bytes are not (shown as \\xNN, which no feed's name pattern accepts)."""
    # As landed: a link is named by its own path, never its target's.
    rel = path.relative_to(sources_dir)
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def link_out(path: Path, sources_dir: Path) -> str:
    """Which link on a landed path leads outside the landing zone, and where to."""
    root = Path(os.path.realpath(sources_dir))
    step = sources_dir
    for part in path.relative_to(sources_dir).parts:
        step = step / part
        if step.is_symlink() and not Path(os.path.realpath(step)).is_relative_to(root):
            what = "" if step == path else f"{relative(step, sources_dir)} is "
            return f"{what}a symbolic link to {os.readlink(step)}, outside the landing zone: not followed"
    return "outside the landing zone: not followed"


# What a landed path can be besides a regular file. Such a path is never opened: reading a FIFO
# blocks until something writes to it.
NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_regular(mode: int) -> str | None:
    """What a path of this `st_mode` is when it is not a regular file (`a directory`, ...), or None."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for is_kind, kind in NOT_REGULAR if is_kind(mode)), "a special file")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes. A path that cannot be read as a file (a directory, a FIFO, no
    permission) hashes as no bytes, so it never passes for a loaded version; file_problem says why."""
    try:
        if not_regular(path.stat().st_mode) is None:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    except OSError:
        pass  # file_problem reports it
    return hashlib.sha256().hexdigest()


def file_month(feed: FeedContract, source_file: str) -> str | None:
    """The month a file's path names (sales/2020-04/..., onboarding/2020-04.csv), if the feed has one."""
    return feed.path_fields(source_file).get("month")


def landed_month(feed: FeedContract, source_file: str, sources_dir: Path | None = None) -> str | None:
    """The month a landed file is for (None for a feed without months). ValueError, naming the
    rule, when its name does not follow the feed's pattern or its month cannot hold data: not a
    month, before the warehouse's first month, after the current month, or outside the reporting
    period the landing zone (`sources_dir`, default the configured one) declares."""
    month = file_month(feed, source_file)
    if month is None:
        return None
    first, current, period = settings.first_month(), settings.current_month(), settings.reporting_period(sources_dir)
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        problem = f"month {month} is not a month (YYYY-MM, 01 to 12)"
    elif month < first:
        problem = f"month {month} is before the warehouse's first month {first} (DEI_FIRST_MONTH)"
    elif month > current:
        problem = f"month {month} is after the current month {current} (Asia/Jakarta)"
    elif period is not None and not period.first_month <= month <= period.last_month:
        problem = f"month {month} is outside the reporting period {period} declared in {period.declared_in} (widen it there to load this month)"
    else:
        return month
    raise ValueError(f"{source_file}: {problem}")


def landed_in_scope(feed: FeedContract, sources_dir: Path, months: set[str] | None) -> tuple[list[tuple[Path, str]], dict[str, tuple[Path, str]]]:
    """The feed's landed files (restricted to `months` if given), and the files rejected by their
    path whatever the months (a name outside the feed's pattern, a month that cannot hold data),
    with the reason."""
    files, misnamed = [], {}
    for path in feed.landed_files(sources_dir):
        rel = relative(path, sources_dir)
        try:
            month = landed_month(feed, rel, sources_dir)
        except ValueError as error:
            misnamed[rel] = (path, str(error).removeprefix(f"{rel}: "))
            continue
        if months is None or month in months:
            files.append((path, rel))
    return files, misnamed


def path_struct_sql(feed: FeedContract, source_file: str) -> str:
    """SQL of the struct of the fields a file's path names (month, platform, year), for the rules
    that compare a value with them (NULL for a feed whose path names none)."""
    groups = list(re.compile(feed.path_pattern).groupindex) if feed.path_pattern else []
    if not groups:
        return "NULL"
    return f"regexp_extract({source_file}, {sql_literal(feed.path_pattern)}, [{', '.join(sql_literal(g) for g in groups)}])"


def path_fields_sql(feed: FeedContract, source_file: str) -> str:
    """SQL of the same fields as a JSON object, for the load audit (NULL for a file whose name does
    not follow the feed's pattern, or a feed whose path names none)."""
    if not feed.path_pattern:
        return "NULL"
    return f"CASE WHEN regexp_full_match({source_file}, {sql_literal(feed.path_pattern)}) THEN to_json({path_struct_sql(feed, source_file)})::VARCHAR END"
