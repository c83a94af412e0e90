"""Import the dashboard bundle into the Superset of SUPERSET_HOME, replacing what it holds of it.

Runs in Superset's environment; reads the bundle as JSON on stdin (path in the bundle -> YAML text)
and takes the owner's user name as its argument. Superset's `import-dashboards` command leaves
existing charts, datasets and databases as they are; this asset import replaces them, so what is
served is the committed bundle, and the database's URI names the current published file.
"""

import json
import sys

from superset.app import create_app

app = create_app()
with app.app_context():
    from superset import security_manager
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.utils.core import override_user

    with override_user(security_manager.find_user(username=sys.argv[1])):
        ImportAssetsCommand(json.load(sys.stdin)).run()
