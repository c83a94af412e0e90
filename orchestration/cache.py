"""Results kept between processes by the hash of everything they are computed from, the computing
code included: what every run would otherwise compute again from the same inputs (a model's column
lineage from the same SQL, a chart of the same figures). `make clean` removes them."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from typing import TypeVar

from orchestration.settings import REPO_ROOT

CACHE_DIR = REPO_ROOT / ".cache"

T = TypeVar("T")


def kept(kind: str, inputs: str, compute: Callable[[], T], dump: Callable[[T], str], load: Callable[[str], T], keep: Callable[[T], bool] = bool) -> T:
    """What `compute()` gave for the same `inputs` before (read with `load`), else its result now,
    written with `dump` when `keep` says so. A file that cannot be read is computed again."""
    path = CACHE_DIR / kind / f"{hashlib.sha256(inputs.encode()).hexdigest()}.json"
    with contextlib.suppress(Exception):  # not there yet, or unreadable (whatever `load` raises): computed again
        return load(path.read_text())
    result = compute()
    if keep(result):
        with contextlib.suppress(OSError):  # a read-only checkout: computed again next time
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_suffix(f".{os.getpid()}.tmp")
            staging.write_text(dump(result))
            staging.replace(path)  # whole or not at all, for processes reading it meanwhile
    return result
