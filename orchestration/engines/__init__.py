"""Where the dbt project runs: the embedded DuckDB, or Spark (its session and the raw layer as a
lake). A run is given one engine object, and differs by engine only through its hooks (base.py)."""

from __future__ import annotations

from pathlib import Path

from orchestration import settings
from orchestration.engines.base import DuckDBEngine, Engine, ModelTable

__all__ = ["ENGINES", "DuckDBEngine", "Engine", "ModelTable", "engine_named"]

ENGINES = ("duckdb", "spark")


def engine_named(name: str, lake: Path | None = None, master: str | None = None) -> Engine:
    """The engine of that name (settings.ENGINE's values); on Spark, with the lake and master given
    (the settings' where not). SettingsError for another name."""
    engine = name.strip().lower()
    if engine == "spark":
        from orchestration.engines.spark import SparkEngine  # pyspark's module, imported only on Spark

        return SparkEngine(**{key: value for key, value in {"lake": lake, "master": master}.items() if value is not None})
    if engine != "duckdb":
        raise settings.SettingsError(f"{settings.ENGINE.name}={engine!r}: expected one of {', '.join(ENGINES)}")
    return DuckDBEngine()
