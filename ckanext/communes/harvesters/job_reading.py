"""ckanext-harvest's readers of job and object errors, their stored messages shown without private addresses
(nor a password written in a URL: report.shown_text).

A gather or import error is stored once, as text, in ckanext-harvest's tables, and read by its job page,
``harvest_job_show`` (``gather_error_summary``, ``object_error_summary``), ``harvest_job_report``,
``harvest_job_list``, ``harvest_object_show``, and ``harvest_source_show_status`` (the source's last job),
which its ``after_dataset_show`` puts in every ``package_show`` / ``harvest_source_show`` of a source as
``status``, and so in the search index. Messages stored before the guarded client learnt not to name the
address a host resolves to are masked on the way out, for every reader (report.py says why operators too).

The search index keeps the ``status`` a source had when it was indexed (``data_dict`` and
``validated_data_dict``): :func:`hide_in_search_results` masks it in ``package_search``'s results until
``ckan search-index rebuild`` (or the source's next job) indexes it again, masked. An activity of a source
keeps that status too: the plugin's migration masks those recorded before
(:func:`hide_addresses_in_source_activities`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa

from ckanext.communes.harvesters.report import shown_text

Context = dict[str, Any]
DataDict = dict[str, Any]


def _hide_messages(items: Any) -> None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            item["message"] = shown_text(item["message"])


def hide_in_job(job: Any) -> Any:
    """A ``harvest_job_dictize`` dict, its error summaries masked (in place)."""
    if isinstance(job, dict):
        _hide_messages(job.get("gather_error_summary"))
        _hide_messages(job.get("object_error_summary"))
    return job


def hide_in_source_status(status: Any) -> Any:
    if isinstance(status, dict):
        hide_in_job(status.get("last_job"))
    return status


def _hide_in_jobs(jobs: Any) -> Any:
    for job in jobs if isinstance(jobs, list) else []:
        hide_in_job(job)
    return jobs


def _hide_in_report(report: Any) -> Any:
    if isinstance(report, dict):
        _hide_messages(report.get("gather_errors"))
        object_errors = report.get("object_errors")
        for errors in object_errors.values() if isinstance(object_errors, dict) else []:
            _hide_messages(errors.get("errors") if isinstance(errors, dict) else None)
    return report


def _hide_in_object(harvest_object: Any) -> Any:
    if isinstance(harvest_object, dict):
        _hide_messages(harvest_object.get("errors"))
    return harvest_object


def _masking(name: str, hide: Callable[[Any], Any]) -> Any:
    """ckanext-harvest's reader ``name``, chained: its answer as it gives it, passed through ``hide``."""

    @tk.chained_action
    @tk.side_effect_free
    def reader(up_func: Any, context: Context, data_dict: DataDict) -> Any:
        return hide(up_func(context, data_dict))

    reader.__name__ = reader.__qualname__ = name
    return reader


harvest_job_show = _masking("harvest_job_show", hide_in_job)
harvest_job_list = _masking("harvest_job_list", _hide_in_jobs)
harvest_job_report = _masking("harvest_job_report", _hide_in_report)
harvest_object_show = _masking("harvest_object_show", _hide_in_object)
harvest_source_show_status = _masking("harvest_source_show_status", hide_in_source_status)

# ckanext-harvest's checks harvest_job_show (the source's readers, auth.py), not an auth function of its own
# name: CKAN's audit exempted it as an unchained extension action, the exemption is kept on the chain
# (tests/test_action_registry_auth.py, UNCHECKED, says so).
harvest_job_report.auth_audit_exempt = True


# Solr fields of a result that hold a source's dict as JSON text, when asked for with ``fl``.
INDEXED_JSON_FIELDS = ("data_dict", "validated_data_dict", "status")


def _hide_everywhere(value: Any) -> Any:
    if isinstance(value, str):
        return shown_text(value)
    if isinstance(value, list):
        return [_hide_everywhere(item) for item in value]
    if isinstance(value, dict):
        return {key: _hide_everywhere(item) for key, item in value.items()}
    return value


def _hide_in_json_text(text: str) -> str:
    try:
        return json.dumps(_hide_everywhere(json.loads(text)))
    except ValueError:
        return shown_text(text)


def hide_in_search_results(search_results: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.after_dataset_search: the ``status`` of the sources found, as indexed, masked;
    also in the JSON text of the fields a caller asked for with ``fl`` (every string of it: the status
    is one key among the source's)."""
    for result in search_results.get("results") or []:
        if not isinstance(result, dict):
            continue
        hide_in_source_status(result.get("status"))
        for key in INDEXED_JSON_FIELDS:
            if isinstance(result.get(key), str):
                result[key] = _hide_in_json_text(result[key])
    return search_results


def hide_addresses_in_source_activities(connection: Any) -> int:
    """Mask the private addresses (and URL passwords) in the ``status`` kept by the activities of harvest
    sources recorded before (an activity keeps the source's package_show dict, its last job's error summary
    included): for the plugin's migration. The activity streams (``package_activity_list``,
    ``organization_activity_list``…) give that data to the source's readers; written once, an activity is cleaned
    once, rather than masked on each of the many routes that read it. Returns how many activities changed."""
    if not sa.inspect(connection).has_table("activity"):
        return 0
    candidates = connection.execute(sa.text(
        "SELECT id, data FROM activity WHERE data LIKE '%harvest%' AND data LIKE '%error_summary%'")).all()
    changed = 0
    for activity_id, text in candidates:
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            continue
        package = data.get("package") if isinstance(data, dict) else None
        if not isinstance(package, dict) or package.get("type") != "harvest":
            continue
        shown = hide_in_source_status(copy.deepcopy(package.get("status")))
        if shown != package.get("status"):
            connection.execute(sa.text("UPDATE activity SET data = :data WHERE id = :id"),
                               {"data": json.dumps({**data, "package": {**package, "status": shown}}),
                                "id": activity_id})
            changed += 1
    return changed


def get_actions() -> dict[str, Any]:
    return {
        "harvest_job_show": harvest_job_show,
        "harvest_job_list": harvest_job_list,
        "harvest_job_report": harvest_job_report,
        "harvest_object_show": harvest_object_show,
        "harvest_source_show_status": harvest_source_show_status,
    }
