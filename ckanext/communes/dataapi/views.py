"""/dataset/<id>/resource/<resource_id>/map-data: the GeoJSON the map preview draws (map_data.py says what is
fetched and how). Registered by the ``communes_geojson_view`` plugin (map_view.py), with the view it serves."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, Response

from ckanext.communes.dataapi import map_data
from ckanext.communes.web import cache_headers

map_data_blueprint = Blueprint("communes_map_data", __name__)


def _error(status: int, message: str) -> Response:
    body = tk.h.dump_json({"error": message})
    response = Response(body, status=status, mimetype="application/json")
    # Kept by nobody: a refusal may be retried at once, and a 404 must not tell a private resource apart
    # (CKAN's own cache headers, set after this view, then say private rather than public).
    tk.request.environ["__no_cache__"] = True
    response.headers["Cache-Control"] = "no-store"
    return response


def read(id: str, resource_id: str) -> Any:  # noqa: A002 - CKAN's name of the dataset in its routes
    if "\x00" in id or "\x00" in resource_id:
        # No such name or id (PostgreSQL refuses the character in a query: not a 500).
        return _error(404, tk._("Resource not found"))
    user = tk.g.user
    try:
        # resource_show's own authorisation: a private dataset for its commune's members and sysadmins only.
        # Always before the cache below, which knows no caller.
        tk.check_access("resource_show", {"user": user}, {"id": resource_id})
        resource = tk.get_action("resource_show")({"user": user}, {"id": resource_id})
        dataset = tk.get_action("package_show")({"user": user}, {"id": id})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        # A private dataset's resource is "not found" for whoever may not read it: its existence is not told.
        return _error(404, tk._("Resource not found"))
    if resource.get("package_id") != dataset.get("id"):
        return _error(404, tk._("Resource not found"))
    try:
        body = map_data.cached_map_data(resource)
    except map_data.MapDataError as error:
        return _error(error.status, error.message())
    response = Response(body, status=200, mimetype="application/geo+json")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if dataset.get("private") or dataset.get("state") != "active":
        # Kept by nobody but the reader (a private or draft dataset): CKAN's own cache headers, set after this
        # view, then say private (__no_cache__); never public, whatever the map's cache time.
        tk.request.environ["__no_cache__"] = True
        response.cache_control.no_store = True
    elif (seconds := map_data.cache_seconds()) > 0:
        # Anybody may read it: the browser and shared caches may keep it as long as the portal does.
        cache_headers.set_public_max_age(seconds)
    return response


map_data_blueprint.add_url_rule("/dataset/<id>/resource/<resource_id>/map-data", view_func=read, endpoint="read")


def get_blueprints() -> list[Blueprint]:
    return [map_data_blueprint]
