"""The landing sensor: new or changed files start runs for just the months (or feeds) they affect."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from orchestration.contracts import is_monthly, load_contracts
from orchestration.defs.raw import raw_key
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.landing import landed_month, relative, sha256_file
from orchestration.text import printable

# Landing state: {source_file: [feed, size, mtime_ns, sha256]}. Only a file whose size or time changed
# is hashed again; only a file whose content changed (or that appeared or went) counts.
State = dict[str, list]


def landing_state(sources_dir: Path, previous: State) -> State:
    state = {}
    for feed in load_contracts().feeds.values():
        for path in feed.landed_files(sources_dir):
            rel = relative(path, sources_dir)
            try:
                stat = path.stat()
                signature = [stat.st_size, stat.st_mtime_ns]
            except OSError:  # a dangling link or a symlink loop: no size or time; the load rejects it
                signature = [None, None]
            known = previous.get(rel)
            same_stat = known is not None and known[1:3] == signature
            # sha256_file never opens what is not a regular file: reading a FIFO would block the sensor.
            state[rel] = [feed.name, *signature, known[3] if same_stat else sha256_file(path)]
    return state


def changed_files(previous: State, current: State) -> dict[str, tuple[str, str | None, str | None]]:
    """Files that appeared, went or changed content: source file -> (feed, SHA-256 before, after),
    None for no file."""
    changed = {rel: (entry[0], previous[rel][3] if rel in previous else None, entry[3]) for rel, entry in current.items()
               if rel not in previous or previous[rel][3] != entry[3]}  # fmt: skip
    changed.update({rel: (entry[0], entry[3], None) for rel, entry in previous.items() if rel not in current})
    return changed


def run_key(scope: str, change: int, changed: dict[str, tuple[str, str | None, str | None]]) -> str:
    """What a run is for: its month (or `feeds`), the number of the landing change it answers, and
    the hash of its files' content before and after. Dagster starts no second run with a key it has
    used, so a key names the content, never only the file names: a corrected re-send under the same
    name, a removal, or a file put back as it was, each starts its run."""
    digest = hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:16]
    return f"{scope}:{change}:{digest}"


def run_requests(changed: dict[str, tuple[str, str | None, str | None]], change: int, asset_graph) -> list[dg.RunRequest]:
    """One run per affected month of the monthly feeds; one run for the other feeds that changed."""
    feeds = load_contracts().feeds
    months: dict[str, dict[str, tuple]] = {}
    others: dict[str, tuple] = {}
    for rel, change_of_file in changed.items():
        feed = feeds[change_of_file[0]]
        if not is_monthly(feed):
            others[rel] = change_of_file
            continue
        try:
            months.setdefault(landed_month(feed, rel), {})[rel] = change_of_file
        except ValueError:
            continue  # misnamed, or a month with no partition: the next load of its feed rejects it
    partitioned = {key for key in asset_graph.get_all_asset_keys() if asset_graph.get(key).partitions_def is not None}
    requests = []
    for month, files in sorted(months.items()):
        names = sorted({name for name, *_ in files.values()})
        selection = dg.AssetSelection.assets(*(raw_key(feeds[n]) for n in names)).downstream().materializable()
        requests.append(
            dg.RunRequest(
                run_key=run_key(month, change, files),
                partition_key=f"{month}-01",
                asset_selection=sorted(selection.resolve(asset_graph), key=str),
                tags={"dei/trigger": "landing_sensor"},
            )
        )
    if others:
        names = sorted({name for name, *_ in others.values()})
        selection = dg.AssetSelection.assets(*(raw_key(feeds[n]) for n in names)).downstream().materializable()
        requests.append(
            dg.RunRequest(
                run_key=run_key("feeds", change, others),
                asset_selection=sorted(selection.resolve(asset_graph) - partitioned, key=str),
                tags={"dei/trigger": "landing_sensor"},
            )
        )
    return requests


@dg.sensor(
    name="landing_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches the sources dir. A file that is new, changed in content or gone starts a run of its "
        "month (sales, onboarding) or of its feed (the others) and everything downstream. The first "
        "evaluation records what is landed without starting runs (load history with `make run`)."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    # Cursor: {"change": number of landing changes that started runs, "files": the landing state}.
    cursor = json.loads(context.cursor) if context.cursor else None
    if cursor is not None and "files" not in cursor:  # kept before changes were numbered: the landing state alone
        cursor = {"change": 0, "files": cursor}
    previous = cursor["files"] if cursor else None
    current = landing_state(warehouse.sources_path, previous or {})
    if cursor is None:
        context.update_cursor(json.dumps({"change": 0, "files": current}))
        return dg.SkipReason(f"Recorded {len(current)} landed files; later changes start runs.")
    changed = changed_files(previous, current)
    change = cursor["change"] + bool(changed)
    context.update_cursor(json.dumps({"change": change, "files": current}))
    if not changed:
        return dg.SkipReason("No landed file is new, changed or gone.")
    context.log.info(f"changed: {printable(', '.join(sorted(changed)))}")
    return run_requests(changed, change, context.repository_def.asset_graph)
