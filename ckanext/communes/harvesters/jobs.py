"""Running a harvest job in the calling process, for ``ckan communes harvest run SOURCE --sync``, the
tests and the benchmark: actions.run_source_sync, the stages the workers run (ckanext-harvest's gather,
stages.py's fetch and import), the job closed whatever happens."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.harvesters.actions import run_source_sync
from ckanext.communes.harvesters.workers import site_user_context


def create_job(source_id: str) -> str:
    """A New job for the source, not sent to the gather queue (the benchmark gathers it by hand)."""
    return tk.get_action("harvest_job_create")(site_user_context(), {"source_id": source_id, "run": False})["id"]


def run_source(source_id: str) -> dict[str, Any]:
    """Gather, fetch and import a job of the source here and now; harvest_job_show of the finished job."""
    return run_source_sync(source_id)
