"""`make dashboard`'s secrets without starting Superset: its home is its user's alone, and the admin
password is shown on the first start only."""

import sys

import pytest

from orchestration.tools import dashboard

pytestmark = pytest.mark.unit


def modes(home):
    return {p.name: oct(p.stat().st_mode & 0o777) for p in sorted(home.iterdir())}


def test_the_admin_password_is_shown_once_and_kept_private(tmp_path, monkeypatch, capsys):
    home, warehouse = tmp_path / "superset_home", tmp_path / "warehouse"
    warehouse.mkdir()
    (warehouse / "indicators.duckdb").write_bytes(b"")
    monkeypatch.setenv("DEI_SUPERSET_HOME", str(home))
    monkeypatch.setenv("DEI_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setattr(sys, "argv", ["dashboard", "--port", "8088"])
    # Everything but Superset itself: no install, no setup process, no server.
    monkeypatch.setattr(dashboard, "install", lambda: None)
    monkeypatch.setattr(dashboard, "_run", lambda *args, **kwargs: None)
    monkeypatch.setattr(dashboard, "bundle", lambda published_db: {})  # the charts are tested with a published database

    def no_server(*args):
        raise SystemExit(0)

    monkeypatch.setattr(dashboard.os, "execve", no_server)

    with pytest.raises(SystemExit):
        dashboard.main()
    first = capsys.readouterr().out
    password = (home / "admin_password").read_text()
    assert len(password) == 16
    assert f"Log in as admin with the password {password} (shown this once; kept in {home / 'admin_password'}, readable by you alone)" in first
    assert modes(home) == {"admin_password": "0o600", "secret_key": "0o600"}
    assert oct(home.stat().st_mode & 0o777) == "0o700"

    with pytest.raises(SystemExit):
        dashboard.main()
    again = capsys.readouterr().out
    assert password not in again
    assert f"Log in as admin, the password is in {home / 'admin_password'} (readable by you alone)" in again
    assert (home / "admin_password").read_text() == password


def test_a_home_made_before_is_closed_on_start(tmp_path):
    home = tmp_path / "superset_home"
    home.mkdir(mode=0o755)
    for name in ("secret_key", "admin_password", "superset.db", "superset.db-wal"):
        (home / name).write_text(name)
        (home / name).chmod(0o644)
    assert dashboard.secrets_of(home) is None  # kept, not regenerated, not shown
    assert (home / "admin_password").read_text() == "admin_password"
    assert oct(home.stat().st_mode & 0o777) == "0o700"
    assert set(modes(home).values()) == {"0o600"}
