"""Prepare the Superset of SUPERSET_HOME in one process: what `superset db upgrade`, `superset init`,
`superset fab create-admin` and an asset import do, without starting Superset four times.

Runs in Superset's environment (`python -m orchestration.tools.dashboard` calls it). Reads JSON on stdin:
{"admin": {"username": ..., "password": ...}, "bundle": {path in the bundle: YAML text},
"datasets": [uuid of each dataset in the bundle]}. The asset
import replaces what Superset holds of the bundle (`superset import-dashboards` would keep existing
charts, datasets and databases as they are), so what is served is the committed bundle, and the
database's URI names the current published file. Each dataset's columns are then read from the
published table, so they are the published ones, DATE columns temporal.
"""

import json
import sys

from flask_migrate import upgrade
from superset.app import create_app

request = json.load(sys.stdin)
app = create_app()
with app.app_context():
    from superset import appbuilder, security_manager
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.connectors.sqla.models import SqlaTable
    from superset.extensions import db
    from superset.utils.core import override_user

    upgrade()  # the metadata database, created or brought up to this release
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    admin = request["admin"]
    user = security_manager.find_user(username=admin["username"])
    if user is None:
        role = security_manager.find_role(security_manager.auth_role_admin)
        user = security_manager.add_user(admin["username"], "Admin", "Local", "admin@localhost", role, admin["password"])
    db.session.commit()
    with override_user(user):
        ImportAssetsCommand(request["bundle"]).run()
    for dataset in db.session.query(SqlaTable).filter(SqlaTable.uuid.in_(request["datasets"])):
        dataset.fetch_metadata()
    db.session.commit()
