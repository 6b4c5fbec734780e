"""Assertions shared by the source types' tests: what a source harvested, and that a faulty source left
everything as it was."""

from __future__ import annotations

from typing import Any

from ckan import model
from ckan.tests import helpers

from ckanext.communes.harvesters.report import HarvestReport, report_for_job
from ckanext.harvest.model import HarvestObject


def harvested(source_id: str) -> dict[str, dict]:
    """Datasets of the source by title, active or withdrawn, from the database."""
    ids = {row[0] for row in model.Session.query(HarvestObject.package_id)
           .filter(HarvestObject.harvest_source_id == source_id, HarvestObject.package_id.isnot(None))}
    return {d["title"]: d for d in (helpers.call_action("package_show", id=i) for i in ids)}


def state_of(source_id: str) -> dict[str, tuple[str, str]]:
    """Title -> (state, metadata_modified) of the source's datasets: what a faulty job must not change."""
    return {title: (d["state"], d["metadata_modified"]) for title, d in harvested(source_id).items()}


def assert_failed_safely(job: dict[str, Any], before: dict[str, tuple[str, str]], source_id: str) -> HarvestReport:
    """The job finished with an error, withdrew nothing (breaker "incomplete") and changed no dataset."""
    assert job["status"] == "Finished"
    report = report_for_job(job["id"])
    assert any(m["level"] == "error" for m in report.messages), report.messages
    assert job["gather_error_summary"], job
    assert report.counts["withdraw"] == 0 and report.breaker == "incomplete"
    assert state_of(source_id) == before
    return report
