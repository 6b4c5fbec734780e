"""/accessibilite: the accessibility statement French public bodies must publish (article 47 of law
no. 2005-102 and its decree no. 2019-768), in the form of the RGAA's model: conformity, the audit's results,
non-accessible content, a contact, and the recourse to the Défenseur des droits."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint

from ckanext.communes.accessibility import audit

accessibility = Blueprint("communes_accessibility", __name__)


def statement() -> Any:
    results = audit.latest()
    return tk.render("accessibility/statement.html", {
        "audit": results,
        "contact_email": tk.config.get("ckanext.communes.accessibility.contact_email") or "",
        "entity": tk.config.get("ckanext.communes.accessibility.entity"),
    })


accessibility.add_url_rule("/accessibilite", view_func=statement, endpoint="statement")


def get_blueprints() -> list[Blueprint]:
    return [accessibility]
