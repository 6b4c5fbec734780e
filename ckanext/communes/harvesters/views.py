"""Operators' pages around ckanext-harvest's: the dry run of a source, the approval of the withdrawals a
job's circuit breaker held, the licence aliases (``/licences/aliases``), and ckanext-harvest's commands
(Reharvest, Clear, Delete, Delete and clear, Stop) on POST only. The job page itself (ckanext-harvest's)
shows our report through the ``communes_harvest_report`` helper.

ckanext-harvest's commands answered GET (``/harvest/refresh/<id>``, ``/harvest/clear/<id>``,
``/harvest/delete/<id>[?clear=True]``, ``/harvest/<source>/job/<id>/abort``): any page holding
``<img src="…/harvest/clear/<id>">``, seen by a logged-in operator, cleared a source (the CSRF check only
guards POSTs). The same addresses now reach our views (CKAN matches the first rule registered, and
``communes`` comes before ``harvest`` in ``ckan.plugins``; a test pins it): a POST, which CKAN's CSRF check
lets through only with the session's token, does the thing; a GET shows a page asking to confirm, whose
button posts the token. That is CKAN's way for deleting a dataset, and what a link followed without
JavaScript, opened in a new tab or kept in a bookmark should lead to: a question, not an error (a 405) and
not the deed. The buttons themselves are CKAN's ``confirm-action`` links: a dialog, then a POST with the
page's token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import ckan.plugins.toolkit as tk
from flask import Blueprint

from ckanext.communes.harvesters.auth import communes_harvest_is_operator
from ckanext.communes.harvesters.operators import _source
from ckanext.communes.translation import N_

communes_harvest = Blueprint("communes_harvest", __name__)

MANAGE_REFUSAL = N_("Only programme operators (administrators of the Métropole de Lyon) and sysadmins manage "
                    "harvesting.")


def _error_text(error: tk.ValidationError) -> str:
    return " ".join(str(m) for messages in (error.error_dict or {}).values() for m in messages)


def preview(id: str) -> Any:  # noqa: A002 - CKAN's route parameter name
    try:
        source = _source(id)
        result = tk.get_action("communes_harvest_preview")({}, {"id": source.id})
    except tk.NotAuthorized:
        return tk.abort(403, tk._(MANAGE_REFUSAL))
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest source not found"))
    except tk.ValidationError as error:
        return tk.abort(409, _error_text(error))
    source_dict = tk.get_action("harvest_source_show")({"ignore_auth": True}, {"id": source.id})
    return tk.render("harvest/communes_preview.html", {"source": source_dict, "preview": result})


def approve_withdrawal(id: str) -> Any:  # noqa: A002
    try:
        job = tk.get_action("harvest_job_show")({"ignore_auth": True}, {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest job not found"))
    try:
        result = tk.get_action("communes_harvest_approve_withdrawal")({}, {"id": id})
        tk.h.flash_success(tk._("{count} datasets withdrawn.").format(count=len(result["withdrawn"])))
    except tk.NotAuthorized:
        return tk.abort(403, tk._(MANAGE_REFUSAL))
    except tk.ValidationError as error:
        tk.h.flash_error(_error_text(error))
    return tk.redirect_to("harvester.job_show", source=job["source_id"], id=id)


# --- ckanext-harvest's commands, on POST only --------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One of ckanext-harvest's commands: what its confirmation page says, what is said once it is done
    (msgids), and the action it runs."""
    title: str
    question: str
    done: str
    action: str
    # The action's refusals (a job already waiting or running, an inactive source: actions.py) said on the
    # dashboard rather than raised.
    says_refusals: bool = False


REHARVEST = Command(N_("Reharvest"), N_(
    "This will re-run the harvesting for this source. Any updates at the source will overwrite the local "
    "datasets. Sources with a large number of datasets may take a significant amount of time to finish "
    "harvesting. Please confirm you would like us to start reharvesting."),
    N_("Harvest will start shortly. Refresh this page for updates."), "harvest_job_create", says_refusals=True)
CLEAR = Command(N_("Clear"), N_(
    "Warning: This will remove all datasets for this source, as well as all previous job reports. Are you sure "
    "you want to continue?"), N_("Harvest source cleared"), "harvest_source_clear")
DELETE = Command(N_("Delete source"), N_(
    "This will flag the source as deleted but keep all its datasets and previous jobs. Are you sure you want to "
    "delete this harvest source?"), N_("The harvest source was deleted; its datasets and jobs are kept."),
    "harvest_source_delete")
DELETE_AND_CLEAR = Command(N_("Delete and clear source"), N_(
    "Warning: Apart from deleting this source, this command will remove all its datasets, as well as all "
    "previous job reports. Are you sure you want to continue?"),
    N_("The harvest source was deleted, with its datasets and jobs."), "harvest_source_delete")
STOP = Command(N_("Stop"), N_(
    "This will stop the job: the datasets it has not imported yet are left as they are. Stop it?"),
    N_("Harvest job stopped"), "harvest_job_abort")


def _refuse() -> NoReturn:
    tk.abort(403, tk._(MANAGE_REFUSAL))


def _managed_source(id_or_name: str) -> dict[str, Any]:
    """The source, for a programme operator. Anyone else gets a 403 before any lookup (whether a source
    exists is none of their business, as on ckanext-harvest's admin page); no such source: 404."""
    if not communes_harvest_is_operator():
        _refuse()
    try:
        source = _source(id_or_name)
    except tk.ObjectNotFound:
        tk.abort(404, tk._("Harvest source not found"))
    return tk.get_action("harvest_source_show")(_context(), {"id": source.id})


def _context() -> dict[str, Any]:
    return {"user": tk.current_user.name, "auth_user_obj": tk.current_user}


def _to_dashboard(source: dict[str, Any]) -> Any:
    return tk.redirect_to("harvester.admin", id=source["name"])


def _run(command: Command, source: dict[str, Any], here: str, data_dict: dict[str, Any],
         then: Callable[[], Any], context: dict[str, Any] | None = None) -> Any:
    """A command's view once the source (and job) are found: a GET (a link followed, a bookmark) shows the
    page asking to confirm, whose button posts to ``here`` with the token; a POST runs the action as the
    user (403 if refused), says it is done, and goes on to ``then()``."""
    if tk.request.method != "POST":
        return tk.render("harvest/communes_confirm.html", {
            "source": source, "title": tk._(command.title), "question": tk._(command.question), "action": here,
            "cancel": tk.h.url_for("harvester.admin", id=source["name"])})
    try:
        tk.get_action(command.action)({**_context(), **(context or {})}, data_dict)
    except tk.NotAuthorized:
        _refuse()
    except tk.ValidationError as error:
        if not command.says_refusals:
            raise
        tk.h.flash_error(_error_text(error))
    else:
        tk.h.flash_success(tk._(command.done))
    return then()


def refresh(id: str) -> Any:  # noqa: A002
    source = _managed_source(id)
    return _run(REHARVEST, source, tk.h.url_for("communes_harvest.refresh", id=id),
                {"source_id": source["id"], "run": True}, lambda: _to_dashboard(source))


def clear(id: str) -> Any:  # noqa: A002
    source = _managed_source(id)
    return _run(CLEAR, source, tk.h.url_for("communes_harvest.clear", id=id), {"id": source["id"]},
                lambda: _to_dashboard(source))


def delete(id: str) -> Any:  # noqa: A002
    source = _managed_source(id)
    # ckanext-harvest's "Delete and clear source" link adds ?clear=True; the confirmation form keeps it.
    and_clear = str(tk.request.args.get("clear", "")).lower() in ("true", "1")
    here = tk.h.url_for("communes_harvest.delete", id=id, **({"clear": "True"} if and_clear else {}))
    return _run(DELETE_AND_CLEAR if and_clear else DELETE, source, here, {"id": source["id"]},
                lambda: tk.redirect_to("harvest.search"), context={"clear_source": and_clear})


def job_abort(source: str, id: str) -> Any:  # noqa: A002
    from ckanext.harvest.model import HarvestJob

    source_dict = _managed_source(source)
    job = HarvestJob.get(id)
    if job is None or job.source_id != source_dict["id"]:
        tk.abort(404, tk._("Harvest job not found"))
    return _run(STOP, source_dict, tk.h.url_for("communes_harvest.job_abort", source=source, id=id),
                {"id": job.id}, lambda: _to_dashboard(source_dict))


def licence_aliases() -> Any:
    """The operators' licence aliases: the list, and a form adding one (``?alias=`` fills the text in, as the
    job report's unrecognised licences link here)."""
    from ckanext.communes.licences.registry import UNRECOGNISED_ID, all_licences

    form = {"alias": str(tk.request.args.get("alias", ""))[:500], "licence_id": ""}
    errors: dict[str, Any] = {}
    try:
        if tk.request.method == "POST":
            form = {"alias": tk.request.form.get("alias", ""), "licence_id": tk.request.form.get("licence_id", "")}
            try:
                created = tk.get_action("communes_licence_alias_create")({}, dict(form))
            except tk.ValidationError as error:
                errors = error.error_dict or {}
            else:
                tk.h.flash_success(tk._('Alias "{alias}" → {licence} added: it applies at the next harvest and to '
                                        "the renormalise command.").format(alias=created["alias"],
                                                                           licence=created["licence_id"]))
                return tk.redirect_to("communes_harvest.licence_aliases")
        aliases = tk.get_action("communes_licence_alias_list")({}, {})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only programme operators (administrators of the Métropole de Lyon) and "
                                  "sysadmins manage licence aliases."))
    licences = [licence for licence in all_licences() if licence.id != UNRECOGNISED_ID]
    return tk.render("harvest/communes_licence_aliases.html", {
        "aliases": aliases, "licences": licences, "form": form, "errors": errors})


communes_harvest.add_url_rule("/harvest/preview/<id>", view_func=preview, endpoint="preview")
# A static path: it wins over the licence page's /licences/<licence_id> (no registry licence is named so).
communes_harvest.add_url_rule("/licences/aliases", view_func=licence_aliases, endpoint="licence_aliases",
                              methods=["GET", "POST"])
communes_harvest.add_url_rule("/harvest/job/<id>/approve-withdrawal", view_func=approve_withdrawal,
                              endpoint="approve_withdrawal", methods=["POST"])
# ckanext-harvest's addresses (its own rules, registered after ours, are never reached).
for _path, _view in (("/harvest/refresh/<id>", refresh), ("/harvest/clear/<id>", clear),
                     ("/harvest/delete/<id>", delete), ("/harvest/<source>/job/<id>/abort", job_abort)):
    communes_harvest.add_url_rule(_path, view_func=_view, endpoint=_view.__name__, methods=["GET", "POST"])


def communes_harvest_report(job_id: str) -> dict[str, Any] | None:
    """Template helper: our report of a job, for whoever may read it (None otherwise)."""
    try:
        return tk.get_action("communes_harvest_report_show")({}, {"id": job_id})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None


DECISION_LABELS = {
    "create": N_("New"),
    "update": N_("Updated"),
    "restore": N_("Back"),
    "takeover": N_("Taken over"),
    "unchanged": N_("Unchanged"),
    "duplicate": N_("Duplicate"),
    "withdraw": N_("Withdrawn"),
}


def communes_harvest_decision_label(decision: str) -> str:
    return tk._(DECISION_LABELS.get(decision, decision))


def communes_commune_label(value: str) -> str:
    """A report's commune key (INSEE code, else organisation name) as the commune search facet shows it."""
    from ckanext.communes.schema.indexing import COMMUNE_FIELD, facet_item_label

    return facet_item_label(COMMUNE_FIELD, value) if value else value


def communes_harvest_owner_choices() -> list[dict[str, str]]:
    """Organisations a source may belong to in the source form: every active organisation for programme
    operators (they create the communes' sources), else those the user may create datasets in."""
    from ckan import model

    from ckanext.communes.communes.helpers import communes_is_programme_operator

    if not communes_is_programme_operator():
        return tk.h.organizations_available("create_dataset")
    groups = (model.Session.query(model.Group)
              .filter(model.Group.is_organization.is_(True), model.Group.state == "active")
              .order_by(model.Group.title).all())
    return [{"id": g.id, "name": g.name, "display_name": g.title or g.name} for g in groups]


def get_blueprints() -> list[Blueprint]:
    return [communes_harvest]


def get_helpers() -> dict[str, Any]:
    return {"communes_harvest_report": communes_harvest_report,
            "communes_harvest_decision_label": communes_harvest_decision_label,
            "communes_harvest_owner_choices": communes_harvest_owner_choices,
            "communes_commune_label": communes_commune_label}
