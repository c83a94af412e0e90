"""What readers get: the published database (atomic, readable by DuckDB 1.x), its file and SDMX
exports, charts and the report, the release history and claims, and where each figure comes from."""
