"""The operators' tools around harvesting: dry run, job report, approval of held withdrawals, detaching
a dataset from its source. Actions (and their auth functions) of the action API:

- ``communes_harvest_preview`` {id}: what a job would create, update, leave unchanged and withdraw, with
  the mapped values of the first datasets and every mapping warning; writes nothing.
- ``communes_harvest_report_show`` {id: job id} (or {source_id}: the latest): the job's report.
- ``communes_harvest_approve_withdrawal`` {id: job id}: withdraw what the circuit breaker held.
- ``communes_harvest_detach`` {id: dataset}: the source stops updating or withdrawing the dataset.

Operators (sysadmins, admins of the Métropole) do everything; a commune's admins and editors read the
reports of their commune's sources.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme
from ckanext.communes.harvesters import base
from ckanext.communes.harvesters.report import (
    BREAKER_APPROVED,
    BREAKER_TRIPPED,
    latest_report,
    report_dict,
    report_for_job,
)
from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectExtra, HarvestSource

AuthResult = dict[str, Any]


def _source(source_id_or_name: Any) -> HarvestSource:
    key = str(source_id_or_name or "")
    source = HarvestSource.get(key)
    if source is None:
        package = model.Package.get(key)
        source = HarvestSource.get(package.id) if package is not None and package.type == "harvest" else None
    if source is None:
        raise tk.ObjectNotFound(tk._("Harvest source not found"))
    return source


def _job(job_id: Any) -> HarvestJob:
    job = HarvestJob.get(str(job_id or ""))
    if job is None:
        raise tk.ObjectNotFound(tk._("Harvest job not found"))
    return job


# ---------------------------------------------------------------------------- auth


def _operators_only(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    return {"success": False, "msg": tk._("Only programme operators (administrators of the Métropole de Lyon) "
                                          "and sysadmins manage harvesting.")}


def communes_harvest_preview_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    return _operators_only(context, data_dict)


def communes_harvest_approve_withdrawal_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    return _operators_only(context, data_dict)


def communes_harvest_detach_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    return _operators_only(context, data_dict)


def communes_harvest_report_show_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    try:
        source_id = _job(data_dict.get("id")).source_id if data_dict.get("id") else _source(
            data_dict.get("source_id")).id
    except tk.ObjectNotFound:
        return {"success": False}
    package = model.Package.get(source_id)
    user = context.get("user")
    if package is not None and package.owner_org and user and model.User.get(user) is not None:
        from ckan import authz

        if authz.has_user_permission_for_group_or_org(package.owner_org, user, "read"):
            return {"success": True}
    return {"success": False, "msg": tk._("Only the source's commune and programme operators read its reports.")}


# ---------------------------------------------------------------------------- actions


@tk.side_effect_free
def communes_harvest_preview(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Dry run of a source: the decisions a job would take now, without writing anything."""
    tk.check_access("communes_harvest_preview", context, data_dict)
    source = _source(data_dict.get("id"))
    harvester = base.harvester_for(source.type)
    if harvester is None:
        raise tk.ValidationError({"id": [tk._("This source type has no dry run.")]})
    try:
        config = harvester.parse_config(source.config)
    except base.ConfigError as error:
        raise tk.ValidationError({"config": [str(error)]}) from None
    plan = harvester.plan(None, source.id, source.url, base.CommunesHarvester._owner_of(source), config,
                          dry_run=True)
    model.Session.rollback()  # nothing of the dry run may reach the database
    report = plan.report.as_dict()
    return {
        "source_id": source.id,
        "counts": report["counts"],
        "per_commune": report["per_commune"],
        "messages": report["messages"],
        "breaker": report["breaker"],
        "unrecognised_licences": report["unrecognised_licences"],
        "sample": plan.sample,
        "decisions": plan.decisions[:1000],
        "withdrawals": plan.withdrawals[:1000],
    }


@tk.side_effect_free
def communes_harvest_report_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any] | None:
    tk.check_access("communes_harvest_report_show", context, data_dict)
    if data_dict.get("id"):
        return report_dict(report_for_job(_job(data_dict["id"]).id))
    return report_dict(latest_report(_source(data_dict.get("source_id")).id))


def communes_harvest_approve_withdrawal(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Withdraw the datasets a job's circuit breaker held back (state deleted, never purged)."""
    tk.check_access("communes_harvest_approve_withdrawal", context, data_dict)
    job = _job(data_dict.get("id"))
    report = report_for_job(job.id)
    if report is None or report.breaker != BREAKER_TRIPPED:
        raise tk.ValidationError({"id": [tk._("This job holds no withdrawal waiting for approval.")]})
    newer = latest_report(job.source_id)
    if newer is not None and newer.job_id != job.id:
        raise tk.ValidationError({"id": [tk._("A newer job of this source exists: approve its withdrawals "
                                              "instead, they reflect the source as it is now.")]})
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    harvest_context = {"user": site_user["name"], "ignore_auth": True, HARVEST_CONTEXT_FLAG: True}
    withdrawn = []
    for package_id in report.pending_withdrawals:
        package = model.Package.get(package_id)
        if package is None or package.state != "active":
            continue
        tk.get_action("package_delete")(dict(harvest_context), {"id": package_id})
        withdrawn.append(package_id)
    report.breaker = BREAKER_APPROVED
    report.counts = {**report.counts, "withdraw": report.counts.get("withdraw", 0) + len(withdrawn)}
    report.messages = [*report.messages, {"level": "info", "message": tk._(
        "Withdrawal of {count} datasets approved by {user}.").format(count=len(withdrawn), user=context.get("user"))}]
    model.Session.add(report)
    model.Session.commit()
    return {"job_id": job.id, "withdrawn": withdrawn}


def communes_harvest_detach(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """The dataset stays as it is, and its source no longer updates or withdraws it."""
    tk.check_access("communes_harvest_detach", context, data_dict)
    package = model.Package.get(str(data_dict.get("id") or ""))
    if package is None:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    current = (
        model.Session.query(HarvestObject)
        .filter(HarvestObject.package_id == package.id, HarvestObject.current.is_(True))
        .first()
    )
    if current is None:
        raise tk.ValidationError({"id": [tk._("This dataset was not harvested.")]})
    if not any(extra.key == base.DETACHED_KEY for extra in current.extras):
        model.Session.add(HarvestObjectExtra(harvest_object_id=current.id, key=base.DETACHED_KEY,
                                             value=str(context.get("user") or "")))
        model.Session.commit()
    return {"id": package.id, "source_id": current.harvest_source_id, "detached": True}


def get_actions() -> dict[str, Any]:
    return {
        "communes_harvest_preview": communes_harvest_preview,
        "communes_harvest_report_show": communes_harvest_report_show,
        "communes_harvest_approve_withdrawal": communes_harvest_approve_withdrawal,
        "communes_harvest_detach": communes_harvest_detach,
    }


def get_auth_functions() -> dict[str, Any]:
    return {
        "communes_harvest_preview": communes_harvest_preview_auth,
        "communes_harvest_report_show": communes_harvest_report_show_auth,
        "communes_harvest_approve_withdrawal": communes_harvest_approve_withdrawal_auth,
        "communes_harvest_detach": communes_harvest_detach_auth,
    }
