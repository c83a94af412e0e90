"""`make dashboard`: Apache Superset with the committed dashboard, on the published database, on 127.0.0.1.

Superset runs from its own environment (`.superset-venv`, installed with uv from the compiled
`dashboard/requirements.txt`): it pins an older DuckDB than the pipeline, which writes the published
file in a storage version both read. Its state (metadata database, secret key, admin password) lives
in a home folder its user alone can read (`DEI_SUPERSET_HOME`, default `.superset_home`); the
published database is opened read-only with no file access beyond it (the bundle's database
`extra`), whatever SQL Lab is given; the dashboard bundle
(`dashboard/bundle/`, Superset's export layout) is imported on every start, so the committed
dashboard is what is served.
"""

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from orchestration import settings
from orchestration.serving.provenance import captions, catalog_provenance, synthetic_note
from orchestration.sql import quoted, sql_literal
from orchestration.text import markdown_text

DASHBOARD_DIR = settings.REPO_ROOT / "dashboard"
BUNDLE_DIR = DASHBOARD_DIR / "bundle"
REQUIREMENTS = DASHBOARD_DIR / "requirements.txt"
SUPERSET_VENV = settings.REPO_ROOT / ".superset-venv"
ADMIN = "admin"
DASHBOARD_SLUG = "umkm-digital-economy"  # the slug of dashboards/umkm_digital_economy.yaml
# The database's URI in the bundle names this placeholder; the import gives the published file's path.
PUBLISHED_DB_PLACEHOLDER = "__PUBLISHED_DB__"


def _run(command: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> None:
    """Run quietly; on failure, show what the command said."""
    result = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command[:3]))} ... failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def install() -> None:
    """Superset's environment, exactly as `dashboard/requirements.txt` says; nothing to do when it already is."""
    stamp = SUPERSET_VENV / ".requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    uv = Path(sys.executable).parent / "uv"
    print(f"Installing Apache Superset into {SUPERSET_VENV.name} (once) ...", flush=True)
    if not (SUPERSET_VENV / "bin" / "python").exists():
        _run([str(uv), "venv", "--quiet", "--python", sys.executable, str(SUPERSET_VENV)])
    _run([str(uv), "pip", "sync", "--quiet", "--python", str(SUPERSET_VENV / "bin" / "python"), str(REQUIREMENTS)])
    stamp.write_text(wanted)


def superset_env(home: Path) -> dict[str, str]:
    return {**os.environ, "SUPERSET_HOME": str(home), "SUPERSET_CONFIG_PATH": str(DASHBOARD_DIR / "superset_config.py")}


def query_context(params: dict) -> dict:
    """The query a chart's params describe, as Superset saves it beside a chart saved in its UI.

    Superset's chart data API (`/api/v1/chart/<id>/data/`) answers from the saved query only; the
    committed charts hold their params alone, so the query is derived from them on import (the
    dataset id is filled in by Superset's import).
    """
    if "x_axis" in params:
        axis = {"columnType": "BASE_AXIS", "expressionType": "SQL", "sqlExpression": params["x_axis"], "label": params["x_axis"]}
        if params.get("time_grain_sqla"):
            axis["timeGrain"] = params["time_grain_sqla"]
        columns = [axis, *params.get("groupby", [])]
        metrics = params["metrics"]
    else:  # a map: one value per entity
        columns, metrics = [params["entity"]], [params["metric"]]
    filters = [
        {"col": f["subject"], "op": f["operator"], **({"val": f["comparator"]} if "comparator" in f else {})}
        for f in params.get("adhoc_filters", [])
        if f["operator"] != "TEMPORAL_RANGE"
    ]
    query = {"columns": columns, "metrics": metrics, "filters": filters, "row_limit": params.get("row_limit", 10000)}
    return {"datasource": {"id": 0, "type": "table"}, "queries": [query], "form_data": params, "result_format": "json", "result_type": "full"}


def chart_indicators(params: dict) -> list[str]:
    """The indicator codes a chart's filters select."""
    for f in params.get("adhoc_filters", []):
        if f["subject"] == "indicator_code":
            return [f["comparator"]] if f["operator"] == "==" else list(f["comparator"])
    return []


# The SQL of the filter operators the committed charts use (their subjects and comparators are the
# bundle's, never the data's).
FILTER_SQL = {
    "==": lambda column, value: f"{column} = {sql_literal(value)}",
    "!=": lambda column, value: f"{column} <> {sql_literal(value)}",
    "IN": lambda column, value: f"{column} IN ({', '.join(sql_literal(v) for v in value)})",
    "IS TRUE": lambda column, value: f"{column} IS TRUE",
}


def map_title(con: duckdb.DuckDBPyConnection, chart: dict) -> str:
    """A map's title with the period it shows and the ends of its colour scale: Superset's map of a
    country draws no legend, and "latest month" does not say which."""
    params = chart["params"]
    where = " AND ".join(FILTER_SQL[f["operator"]](quoted(f["subject"]), f.get("comparator")) for f in params["adhoc_filters"])
    period, low, high = con.execute(f"SELECT max(time_period), min(obs_value), max(obs_value) FROM marts.indicators_labelled WHERE {where}").fetchone()
    if period is None:
        return chart["slice_name"]
    spec = params["number_format"]  # a d3 format that Python's format() reads alike (',.1f')
    return f"{chart['slice_name'].format(period=period)}: from {low:{spec}} (lightest) to {high:{spec}} (darkest)"


def _markdown(component_id: str, row_id: str, width: int, text: str) -> dict:
    return {"type": "MARKDOWN", "id": component_id, "children": [], "parents": ["ROOT_ID", "GRID_ID", row_id],
            "meta": {"width": width, "height": 10, "code": text}}  # fmt: skip


def _row(row_id: str, children: list[str]) -> dict:
    return {"type": "ROW", "id": row_id, "children": children, "parents": ["ROOT_ID", "GRID_ID"], "meta": {"background": "BACKGROUND_TRANSPARENT"}}


def captioned(dashboard: dict, chart_captions: dict[str, str], note: str | None) -> dict:
    """The dashboard with only the charts in `chart_captions` (by uuid), each captioned under it
    (a row of captions under each row of charts), and `note` above them all; rows left without a
    chart are dropped. Captions are data: Markdown-escaped text."""
    position = dashboard["position"]
    grid = position["GRID_ID"]
    rows = [] if note is None else ["ROW-NOTE"]
    if note is not None:
        position["ROW-NOTE"] = _row("ROW-NOTE", ["MARKDOWN-NOTE"])
        position["MARKDOWN-NOTE"] = _markdown("MARKDOWN-NOTE", "ROW-NOTE", 12, f"**{markdown_text(note)}**")
    for row_id in grid["children"]:
        shown = [c for c in position[row_id]["children"] if position[c]["meta"]["uuid"] in chart_captions]
        for chart_id in set(position[row_id]["children"]) - set(shown):
            del position[chart_id]
        if not shown:
            del position[row_id]
            continue
        position[row_id]["children"] = shown
        caption_row = f"{row_id}-CAPTIONS"
        position[caption_row] = _row(caption_row, [f"MARKDOWN-{chart_id}" for chart_id in shown])
        for chart_id in shown:
            meta = position[chart_id]["meta"]
            text = markdown_text(chart_captions[meta["uuid"]])
            position[f"MARKDOWN-{chart_id}"] = _markdown(f"MARKDOWN-{chart_id}", caption_row, meta["width"], text)
        rows += [row_id, caption_row]
    grid["children"] = rows
    return dashboard


def bundle(published_db: Path) -> dict[str, str]:
    """The committed bundle as Superset imports it (path -> YAML text): the published file's path in
    the database's URI, every chart's query derived from its params, and on the dashboard the
    charts whose indicators have rows (a published table not landed has none), each captioned with
    the origin and source of its figures."""
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        catalog = catalog_provenance(con)
        with_rows = {code for (code,) in con.execute("SELECT DISTINCT indicator_code FROM marts.indicators").fetchall()}
        note = synthetic_note(con)
        texts = {path.relative_to(BUNDLE_DIR).as_posix(): path.read_text(encoding="utf-8") for path in sorted(BUNDLE_DIR.rglob("*.yaml"))}
        titles = {
            rel: map_title(con, chart)
            for rel, text in texts.items()
            if rel.startswith("charts/")
            if (chart := yaml.safe_load(text))["viz_type"] == "country_map" and chart_indicators(chart["params"])[0] in with_rows
        }
    finally:
        con.close()
    contents, chart_captions = {}, {}
    for rel, text in texts.items():
        if rel.startswith("databases/"):
            text = text.replace(PUBLISHED_DB_PLACEHOLDER, str(published_db.resolve()))
        elif rel.startswith("charts/"):
            chart = yaml.safe_load(text)
            codes = [code for code in chart_indicators(chart["params"]) if code in with_rows]
            if not codes:
                continue
            chart_captions[chart["uuid"]] = " ".join(captions(catalog, codes))
            chart["slice_name"] = titles.get(rel, chart["slice_name"])
            chart["query_context"] = json.dumps(query_context(chart["params"]))
            text = yaml.safe_dump(chart, sort_keys=False, allow_unicode=True)
        contents[rel] = text
    for rel in [rel for rel in contents if rel.startswith("dashboards/")]:
        dashboard = captioned(yaml.safe_load(contents[rel]), chart_captions, note)
        contents[rel] = yaml.safe_dump(dashboard, sort_keys=False, allow_unicode=True)
    return contents


def _write_private(path: Path, text: str) -> None:
    """Write `path` readable by its owner alone from the moment it exists (never 0644 for an instant)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)


def secrets_of(home: Path) -> str | None:
    """Superset's home, its owner's alone (0700), with the secret key and the admin password, each
    generated once (0600), and the metadata database (the admin's password hash) 0600. Returns the
    admin password when this call generated it, else None: it is shown once, later only its file."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    generated = None
    if not (home / "secret_key").exists():
        _write_private(home / "secret_key", secrets.token_urlsafe(42))
    if not (home / "admin_password").exists():
        generated = secrets.token_urlsafe(12)
        _write_private(home / "admin_password", generated)
    # A home made before these rules; Superset's own new files are 0600 by superset_config.py's umask.
    for path in (home / "secret_key", home / "admin_password", *home.glob("superset.db*")):
        path.chmod(0o600)
    return generated


def prepare(home: Path, published_db: Path) -> str | None:
    """A Superset home ready to serve: metadata database, admin user, roles, the dashboard imported.
    Returns the admin password when it was generated now (see secrets_of)."""
    generated = secrets_of(home)
    contents = bundle(published_db)
    datasets = [yaml.safe_load(text)["uuid"] for path, text in contents.items() if path.startswith("datasets/")]
    request = {"admin": {"username": ADMIN, "password": (home / "admin_password").read_text()}, "bundle": contents, "datasets": datasets}
    _run([str(SUPERSET_VENV / "bin" / "python"), str(DASHBOARD_DIR / "superset_setup.py")], superset_env(home), json.dumps(request))
    return generated


def serve_command(port: int) -> list[str]:
    """Superset's WSGI app under gunicorn, on 127.0.0.1 only."""
    return [
        str(SUPERSET_VENV / "bin" / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "superset.app:create_app()",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (make: DASHBOARD_PORT, its default in the Makefile)")
    args = parser.parse_args()
    published_db = settings.warehouse_dir() / settings.PUBLISHED_DB_NAME
    if not published_db.exists():
        raise SystemExit(f"No published database at {published_db}: run `make run` first.")
    install()
    home = settings.superset_home_dir()
    print(f"Preparing Superset in {home} ...", flush=True)
    generated = prepare(home, published_db)
    password_file = home / "admin_password"
    login = (
        f"Log in as {ADMIN} with the password {generated} (shown this once; kept in {password_file}, readable by you alone)"
        if generated
        else f"Log in as {ADMIN}, the password is in {password_file} (readable by you alone)"
    )
    print(f"Dashboard: http://127.0.0.1:{args.port}/superset/dashboard/{DASHBOARD_SLUG}/\n{login}\nStop with Ctrl-C.", flush=True)
    command = serve_command(args.port)
    os.execve(command[0], command, superset_env(home))


if __name__ == "__main__":
    main()
