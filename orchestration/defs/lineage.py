"""Column lineage followed to its sources: for each column of a mart, the columns of the assets
without lineage of their own (the raw feeds, the load audit) that its values are computed from,
shown on the mart as a table the Dagster UI renders (its column lineage graph is not in the
open-source UI; dagster/column_lineage only names each column's parents, one model up)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import dagster as dg

from orchestration.text import markdown_text

# A model's recorded dagster/column_lineage, by column: its parents' columns.
Lineage = Mapping[str, Sequence[dg.TableColumnDep]]
SOURCE_COLUMNS = "column_sources"


def source_columns(key: dg.AssetKey, column: str, lineage_of: Callable[[dg.AssetKey], Lineage | None]) -> set[tuple[dg.AssetKey, str]]:
    """The columns, of assets with no lineage recorded, that `key`'s `column` is computed from,
    followed model by model through `lineage_of` (a column its model's lineage does not list, a
    constant or a count, has none)."""
    sources: set[tuple[dg.AssetKey, str]] = set()
    stack, seen = [(key, column)], set()
    while stack:
        at = stack.pop()
        if at in seen:
            continue
        seen.add(at)
        lineage = lineage_of(at[0])
        if lineage is None:
            sources.add(at)
        else:
            stack += [(dep.asset_key, dep.column_name) for dep in lineage.get(at[1], ())]
    return sources


def recorded_lineage(instance: dg.DagsterInstance, built: Mapping[dg.AssetKey, Lineage]) -> Callable[[dg.AssetKey], Lineage | None]:
    """An asset's column lineage: as this step built it, else as its latest materialization
    recorded it (an earlier step of the run, or an earlier run); None for an asset without one."""
    cache: dict[dg.AssetKey, Lineage | None] = dict(built)

    def lineage_of(key: dg.AssetKey) -> Lineage | None:
        if key not in cache:
            event = instance.get_latest_materialization_event(key)
            value = event.asset_materialization.metadata.get("dagster/column_lineage") if event and event.asset_materialization else None
            cache[key] = value.value.deps_by_column if value is not None else None
        return cache[key]

    return lineage_of


def source_columns_markdown(key: dg.AssetKey, lineage: Lineage, lineage_of: Callable[[dg.AssetKey], Lineage | None]) -> str:
    """A Markdown table: each column of the model and the source columns it is computed from."""
    rows = ["| column | computed from |", "|---|---|"]
    for column in lineage:
        sources = sorted(markdown_text(f"{k.to_user_string()}.{c}") for k, c in source_columns(key, column, lineage_of))
        rows.append(f"| {markdown_text(column)} | {', '.join(sources) or 'no column (a constant or a count)'} |")
    return "\n".join(rows)
