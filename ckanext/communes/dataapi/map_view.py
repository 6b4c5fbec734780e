"""The map preview of GeoJSON and WFS resources (issue #23 item 4): ckanext-geoview's Leaflet GeoJSON view,
its data read through the portal's guarded endpoint (map_data.py, views.py).

ckanext-geoview 0.3.2's own plugins are not loaded: its ``geojson_view`` offers itself only for a file on the
portal's own domain or with CKAN's ``resource_proxy`` (plain ``requests``, no address guard), and reads the data
from the reader's browser otherwise; its ``geo_view`` (OpenLayers) brings an unguarded ``service_proxy`` route
and outside tiles by default. This plugin is geoview's GeoJSONView with three changes:

* it offers itself for every GeoJSON resource and every WFS link (read as a GetFeature in GeoJSON, so one
  Leaflet view draws both), and its data URL is our endpoint, never the resource's own address;
* it serves geoview's Leaflet 1.9.4, proj4 and stylesheet from the portal (webassets), but not geoview's
  ``base.html``, whose format badges (white on light green) fail WCAG's contrast on every dataset page;
* its template (templates/communes/map_view.html, assets/map-view.js) draws no tiles unless
  ``ckanext.spatial.common_map.*`` configures them, names the map and gives a text alternative (number of
  features, extent, the download link), in French; property values are escaped in the popups (geoview's
  popup puts them in the page as HTML, in a frame of the portal's own origin).

Its view type keeps geoview's name, ``geojson_view`` (``ckan.views.default_views``): the views created stay
readable by geoview's own plugin should an operator go back to it."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.communes.dataapi import map_data, views
from ckanext.communes.translation import N_, gettext_in_default_locale
from ckanext.communes.web import cache_headers
from ckanext.geoview import plugin as geoview

VIEW_TYPE = "geojson_view"


class CommunesGeoJSONView(geoview.GeoJSONView):
    p.implements(p.IBlueprint)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IMiddleware, inherit=True)

    # IConfigurer
    def update_config(self, config_: tk.CKANConfig) -> None:
        # geoview's assets and public files (Leaflet's images), not its templates (see the module's docstring).
        geoview_public = os.path.join(os.path.dirname(geoview.__file__), "public")
        tk.add_public_directory(config_, geoview_public)
        tk.add_resource(geoview_public, "ckanext-geoview")
        mimetypes.add_type("application/geo+json", ".geojson")

    # IResourceView
    def info(self) -> dict[str, Any]:
        return {
            "name": VIEW_TYPE,
            "title": tk._("Map"),
            "icon": "map-marker",
            "iframed": True,
            "default_title": default_title(),
        }

    def can_view(self, data_dict: dict[str, Any]) -> bool:
        resource = data_dict["resource"]
        kind = map_data.map_kind(resource)
        if kind == "wfs":
            return resource.get("url_type") != "upload"
        return kind == "geojson"

    def view_template(self, context: dict[str, Any], data_dict: dict[str, Any]) -> str:
        return "communes/map_view.html"

    def setup_template_variables(self, context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
        resource, package = data_dict["resource"], data_dict["package"]
        return {
            "map_data_url": tk.url_for("communes_map_data.read", id=package["name"], resource_id=resource["id"]),
            "map_kind": map_data.map_kind(resource),
            "map_config": geoview_map_config(),
        }

    # IBlueprint
    def get_blueprint(self) -> list[Any]:
        return views.get_blueprints()

    # IMiddleware: the public map data's own Cache-Control (its cache time), in place of CKAN's page default.
    def make_middleware(self, app: Any, config: Any) -> Any:
        return cache_headers.install(app)

    # IPackageController
    def after_dataset_update(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        """CKAN makes the default views of the resources of a new dataset (package_create) and of a resource
        added alone (resource_create), not of a resource that ``package_update`` adds: an API call, and every
        harvest that finds a new resource in a known dataset (harvesters/base.py keeps the ids of the resources
        it knows, a new one has none). Ours is made here, in the update's transaction, for the map resources
        this update added, the ones submitted without an id; a view an editor deleted is not made again."""
        if VIEW_TYPE not in default_view_types():
            return
        submitted = pkg_dict.get("resources") or []
        added = [index for index, resource in enumerate(submitted)
                 if isinstance(resource, dict) and not resource.get("id") and map_data.map_kind(resource)]
        if added:
            add_map_views(pkg_dict.get("id") or pkg_dict.get("name"), added)


def default_view_types() -> list[str]:
    configured = tk.config.get("ckan.views.default_views")
    if isinstance(configured, str):
        return configured.split()
    return list(configured or [])


def add_map_views(dataset_id: str | None, positions: list[int]) -> None:
    """The map view of the dataset's resources at these positions (those of the submitted list: CKAN saves the
    resources in that order), unless they have one."""
    from ckan import model
    from ckan.lib import datapreview

    package = model.Package.get(dataset_id) if dataset_id else None
    if package is None:
        return
    resource_ids = {package.resources[index].id for index in positions if index < len(package.resources)}
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    context = {"user": site_user, "ignore_auth": True, "defer_commit": True}
    # Not the index's copy, which does not hold the resources of this update yet.
    dataset = tk.get_action("package_show")({**context, "use_cache": False}, {"id": package.id})
    for resource in dataset["resources"]:
        if resource["id"] in resource_ids:
            datapreview.add_views_to_resource(dict(context), resource, dataset, view_types=[VIEW_TYPE])


def default_title() -> str:
    """The title a new map view is stored with: in the portal's language whoever creates it (a harvest worker
    or an API call has no reader's language, and every reader sees the title)."""
    return gettext_in_default_locale(N_("Map"))


def geoview_map_config() -> dict[str, Any]:
    """The base map of ``ckanext.spatial.common_map.*`` as geoview's Leaflet helper reads it; empty: no tiles."""
    from ckanext.geoview import utils

    config = utils.get_common_map_config_for_leaflet()
    return config if config.get("type") else {}
