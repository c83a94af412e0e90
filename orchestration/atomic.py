"""Replacing a file atomically: readers see the old version or the new one, never a part, even
after a crash or a power cut."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_path(target: Path, token: str) -> Path:
    """The hidden file beside `target` a new version is written to (same directory: same file system)."""
    return target.with_name(f".{target.name}.{token}.tmp")


@contextmanager
def replacing(target: Path, token: str | None = None) -> Iterator[Path]:
    """Yield a staging path beside `target` to write the new version to; when the block ends
    without error, the file is synced to disk, renamed over `target`, and the rename synced (the
    directory); on error the staging file is removed and `target` is left as it was."""
    staging = staging_path(target, token or uuid.uuid4().hex)
    try:
        yield staging
        with open(staging, "rb") as written:
            os.fsync(written.fileno())
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
