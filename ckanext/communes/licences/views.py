"""/licences/<id>: the page behind the URI the RDF mints for a licence that has neither an EU licence
NAL URI nor a canonical URL (the Métropole's « licence engagée » and « licence associée », CKAN's
``other-*``), so that the URI a reuser meets in dct:license says what the licence is. Any registry
licence has its page; content negotiation is not needed (the RDF node already carries the labels)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint

from ckanext.communes.licences import policy
from ckanext.communes.licences.helpers import communes_licence_mark
from ckanext.communes.licences.registry import get_licence

licences = Blueprint("communes_licences", __name__)


def read(licence_id: str) -> Any:
    licence = get_licence(licence_id)
    if licence is None:
        return tk.abort(404, tk._("Unknown licence"))
    mark = communes_licence_mark({"license_id": licence.id})
    return tk.render("licences/read.html", {
        "licence": licence,
        "mark": mark,
        "is_open": licence.is_open,
        "compliance": policy.compliance_of(licence, licence.id),
    })


licences.add_url_rule("/licences/<licence_id>", view_func=read, endpoint="read")


def get_blueprints() -> list[Blueprint]:
    return [licences]
