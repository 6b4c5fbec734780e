"""Operators' pages around ckanext-harvest's: the dry run of a source and the approval of the withdrawals a
job's circuit breaker held. The job page itself (ckanext-harvest's) shows our report through the
``communes_harvest_report`` helper."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint

from ckanext.communes.communes.translation import N_
from ckanext.communes.harvesters.operators import _source

communes_harvest = Blueprint("communes_harvest", __name__)


def preview(id: str) -> Any:  # noqa: A002 - CKAN's route parameter name
    try:
        source = _source(id)
        result = tk.get_action("communes_harvest_preview")({}, {"id": source.id})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only programme operators (administrators of the Métropole de Lyon) and "
                                  "sysadmins manage harvesting."))
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Harvest source not found"))
    except tk.ValidationError as error:
        return tk.abort(409, " ".join(str(m) for messages in error.error_dict.values() for m in messages))
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
        return tk.abort(403, tk._("Only programme operators (administrators of the Métropole de Lyon) and "
                                  "sysadmins manage harvesting."))
    except tk.ValidationError as error:
        tk.h.flash_error(" ".join(str(m) for messages in error.error_dict.values() for m in messages))
    return tk.redirect_to("harvester.job_show", source=job["source_id"], id=id)


communes_harvest.add_url_rule("/harvest/preview/<id>", view_func=preview, endpoint="preview")
communes_harvest.add_url_rule("/harvest/job/<id>/approve-withdrawal", view_func=approve_withdrawal,
                              endpoint="approve_withdrawal", methods=["POST"])


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
