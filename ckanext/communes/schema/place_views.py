"""/recherche/lieu: the search page's place form (a commune, or four coordinates) turned into an ``ext_bbox``
search that keeps the other filters; what cannot be read is shown again with a French error naming the field
(status 400); a visit without any field of the form shows the form. The keyboard's and screen reader's way to
search by place, and where the map's rectangle goes."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, request

from ckanext.communes.schema import maps

place_search = Blueprint("communes_place_search", __name__)


def search_by_place() -> Any:
    if not any(field in request.args for field in maps.PLACE_FIELDS):
        # A visit (a link, a bookmark), not a sent form (which sends every field, even empty): the form, no error.
        return tk.render("communes/place_search.html", {"form": maps.PlaceForm(kept=maps.kept_filters(request.args))})
    form = maps.read_place_form(request.args)
    if form.bbox is None:
        return tk.render("communes/place_search.html", {"form": form}), 400
    return tk.redirect_to(maps.search_url(form.bbox, form.kept))


place_search.add_url_rule("/recherche/lieu", view_func=search_by_place, methods=["GET"])


def get_blueprints() -> list[Blueprint]:
    return [place_search]
