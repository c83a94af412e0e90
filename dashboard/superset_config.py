"""Superset settings of `make dashboard`: a local, single-user instance whose state lives in SUPERSET_HOME.

Loaded by Superset through SUPERSET_CONFIG_PATH (set by `python -m orchestration.tools.dashboard`).
"""

import os
import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

HOME = Path(os.environ["SUPERSET_HOME"])
# Every file Superset creates (its metadata database holds the admin's password hash, and its WAL)
# is its user's alone; this file is read first by every Superset process, setup and server.
os.umask(0o077)

# Generated once per home by `orchestration.tools.dashboard`: sessions and stored secrets stay valid
# across restarts, and no key is committed.
SECRET_KEY = (HOME / "secret_key").read_text(encoding="utf-8").strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{HOME / 'superset.db'}"
DATA_DIR = str(HOME)

# Local use only (the server binds 127.0.0.1): no loading of example data, logs at warning level.
LOG_LEVEL = "WARNING"


@event.listens_for(Engine, "connect")
def _sqlite_metadata_pragmas(connection, _record) -> None:
    """The metadata database in WAL mode, synced at checkpoints: creating it (Superset's ~400
    migrations) waits on far fewer disk syncs."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
