"""A job run from the command line that belongs to its code location, as one launched from the UI.

`make run` executes in its own process (no code server to start, the terminal sees each step), but
the run is created with the origin of the job in the workspace's code location (workspace.yaml):
the UI lists it under the job, in the Overview timeline and on each asset's page, and can re-execute
it, which it cannot for a run of `execute_in_process` (no origin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestration.settings import REPO_ROOT

if TYPE_CHECKING:
    import dagster as dg

WORKSPACE = REPO_ROOT / "workspace.yaml"


def execute(instance: dg.DagsterInstance, job_name: str, run_id: str, tags: Mapping[str, str], run_config: Mapping[str, Any]) -> dg.ExecutionResult:
    """Create the run of `job_name` with its code location's origin and execute it here, in this
    process (the job's own executor), its events stored in `instance` as they happen."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    (location,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    target = location.loadable_target_origin
    job = ReconstructableRepository.for_module(target.module_name, target.attribute or "defs", target.working_directory).get_reconstructable_job(job_name)
    run = instance.create_run_for_job(
        job_def=job.get_definition(),
        run_id=run_id,
        run_config=run_config,
        tags=tags,
        remote_job_origin=RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_job_origin(job_name),
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance, raise_on_error=False)
