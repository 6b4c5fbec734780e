"""Pages of the communes: the index at /communes and /communes/<code> (redirect to the organisation).

The DCAT concern adds /communes/<insee>/catalog.<fmt> in its own blueprint."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, request

from ckanext.communes.communes import programme
from ckanext.communes.communes.obligation import STATUSES, status_label

communes = Blueprint("communes", __name__)


def index() -> str:
    filters = {
        "q": request.args.get("q", "").strip(),
        "partner_status": request.args.get("partner_status", "").strip(),
        "obliged": request.args.get("obliged", "").strip(),
        "expiring": request.args.get("expiring", "").strip() not in ("", "0", "false"),
    }
    query: dict[str, Any] = {"limit": 1000}
    for key in ("q", "partner_status", "obliged"):
        if filters[key]:
            query[key] = filters[key]
    if filters["expiring"]:
        query["expiring_within_days"] = programme.DEFAULT_EXPIRY_WARNING_DAYS
    error = None
    try:
        found = tk.get_action("commune_list")({}, query)
    except tk.ValidationError as exc:
        # A hand-made query string with an unknown status: show the message and every commune.
        error = " ".join(str(m) for messages in exc.error_dict.values() for m in messages)
        found = tk.get_action("commune_list")({}, {"limit": 1000})
    return tk.render("communes/index.html", {
        "found": found,
        "filters": filters,
        "error": error,
        "warning_days": programme.DEFAULT_EXPIRY_WARNING_DAYS,
        "obligation_choices": [(status, status_label(status)) for status in STATUSES],
    })


def commune(code: str) -> Any:
    """/communes/69149, /communes/69152 (former code), /communes/216900290 (SIREN) or /communes/bron."""
    group = programme.commune_group_for(code)
    if group is None:
        return tk.abort(404, tk._("No commune of the Métropole de Lyon matches {id}.").format(id=code))
    return tk.redirect_to("organization.read", id=group.name)


communes.add_url_rule("/communes", view_func=index, endpoint="index")
communes.add_url_rule("/communes/<code>", view_func=commune, endpoint="read")


def get_blueprints() -> list[Blueprint]:
    return [communes]
