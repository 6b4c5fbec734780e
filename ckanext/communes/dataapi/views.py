"""/dataset/<id>/resource/<resource_id>/map-data: the GeoJSON the map preview draws (map_data.py says what is
fetched and how). Registered by the ``communes_geojson_view`` plugin (map_view.py), with the view it serves."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, Response

from ckanext.communes.dataapi import map_data

map_data_blueprint = Blueprint("communes_map_data", __name__)


def _error(status: int, message: str) -> Response:
    body = tk.h.dump_json({"error": message})
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def read(id: str, resource_id: str) -> Any:  # noqa: A002 - CKAN's name of the dataset in its routes
    user = tk.g.user
    try:
        # resource_show's own authorisation: the dataset's, private ones for their commune and the operators.
        tk.check_access("resource_show", {"user": user}, {"id": resource_id})
        resource = tk.get_action("resource_show")({"user": user}, {"id": resource_id})
        dataset = tk.get_action("package_show")({"user": user}, {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        # A private dataset's resource is "not found" for whoever may not read it: its existence is not told.
        return _error(404, tk._("Resource not found"))
    if resource.get("package_id") != dataset.get("id"):
        return _error(404, tk._("Resource not found"))
    try:
        body = map_data.read_map_data(resource)
    except map_data.MapDataError as error:
        return _error(error.status, error.message())
    response = Response(body, status=200, mimetype="application/geo+json")
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A private dataset's data stays out of shared caches; a public one may be kept a minute by the browser.
    if dataset.get("private"):
        # Kept by nobody: CKAN's own cache headers, set after this view, then say private (__no_cache__).
        tk.request.environ["__no_cache__"] = True
        response.cache_control.no_store = True
    return response


map_data_blueprint.add_url_rule("/dataset/<id>/resource/<resource_id>/map-data", view_func=read, endpoint="read")


def get_blueprints() -> list[Blueprint]:
    return [map_data_blueprint]
