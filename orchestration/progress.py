"""Progress of a step's long loops, for a terminal watching `make run`; nothing anywhere else."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

# Set by `make run` when its output is a terminal (a progress bar); the UI and tests leave it unset.
show: Callable[[Sequence, str], Iterable] | None = None


def track(items: Sequence[T], description: str) -> Iterable[T]:
    """The items, shown as a progress bar while they are iterated when a terminal is watching."""
    return show(items, description) if show is not None and len(items) > 1 else items
