"""The map preview of GeoJSON and WFS resources (issue #23 item 4): created by default, its data served by the
portal's own endpoint (dataapi/views.py, map_data.py) through the guarded client, for a resource the caller may
read and nothing else: never a private address (nor a redirect to one), never a private dataset for whoever may
not read it, never more than the size limit, never what is not GeoJSON; French errors."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.shared import ENVI

MAP = pytest.mark.with_plugins("communes_geojson_view")
pytestmark = [MAP, pytest.mark.usefixtures("clean_db")]

GEOJSON_BODY = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"nom": "Stade Pierre Duboeuf"},
     "geometry": {"type": "Point", "coordinates": [4.9272, 45.7402]}},
    {"type": "Feature", "properties": {"nom": "Parc de Parilly"},
     "geometry": {"type": "Polygon", "coordinates": [[[4.89, 45.71], [4.91, 45.71], [4.91, 45.73], [4.89, 45.71]]]}},
]})


def create_map_dataset(org: str, url: str, *, resource_format: str = "GeoJSON", private: bool = False,
                       name: str = "equipements-carte", user: str | None = None) -> dict[str, Any]:
    user = user or helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    return helpers.call_action(
        "package_create", context={"user": user}, name=name, title="Équipements sportifs", notes="Les équipements.",
        theme=[ENVI], owner_org=org, license_id="etalab-2.0", private=private,
        resources=[{"url": url, "name": "Équipements (carte)", "format": resource_format}])


def map_data_url(dataset: dict[str, Any]) -> str:
    return f"/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}/map-data"


def loopback_only(monkeypatch: pytest.MonkeyPatch, ckan_config: Any) -> None:
    """Private addresses refused, except the fixture server's 127.0.0.1 (a redirect from it to another private
    address must still be refused)."""
    from ckanext.communes.dataapi import map_data

    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", False)
    original = map_data.map_limits
    monkeypatch.setattr(map_data, "map_limits",
                        lambda: dataclasses.replace(original(), allowed_networks=("127.0.0.1/32",)))


# ------------------------------------------------------------------------------------ created by default


def test_a_geojson_and_a_wfs_resource_get_the_map_view_by_default_and_a_csv_does_not(people):
    bron = people.commune_editor["name"]
    geojson = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.geojson", user=bron)
    wfs = create_map_dataset("bron", "https://data.ville-bron.fr/wfs#equipements", resource_format="WFS",
                             name="equipements-wfs", user=bron)
    csv = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.csv", resource_format="CSV",
                             name="equipements-csv", user=bron)
    for dataset, expected in ((geojson, ["geojson_view"]), (wfs, ["geojson_view"]), (csv, [])):
        views = helpers.call_action("resource_view_list", id=dataset["resources"][0]["id"])
        assert [view["view_type"] for view in views] == expected, dataset["name"]
    view = helpers.call_action("resource_view_list", id=geojson["resources"][0]["id"])[0]
    assert view["title"] == "Carte"


def test_a_resource_added_by_an_update_as_a_harvest_does_gets_the_map_view(people):
    """Harvesters create with package_create and update with package_update (harvesters/stages.py): both make
    the default views of new resources."""
    dataset = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.csv", resource_format="CSV")
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset["resources"].append({"url": "https://data.ville-bron.fr/equipements.geojson", "name": "Carte",
                                 "format": "GeoJSON"})
    updated = helpers.call_action("package_update", context={"user": site_user}, **dataset)
    added = next(r for r in updated["resources"] if r["format"] == "GeoJSON")
    views = helpers.call_action("resource_view_list", id=added["id"])
    assert [view["view_type"] for view in views] == ["geojson_view"]

    # An editor's deletion of the view holds: a later update makes none for a resource it did not add.
    helpers.call_action("resource_view_delete", context={"user": site_user}, id=views[0]["id"])
    helpers.call_action("package_update", context={"user": site_user},
                        **{**updated, "notes": "Les équipements, mis à jour."})
    assert helpers.call_action("resource_view_list", id=added["id"]) == []


def test_a_resource_added_alone_through_the_form_gets_one_map_view(people):
    """resource_create (the resource form) runs package_update, then makes the default views: one view only."""
    dataset = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.csv", resource_format="CSV")
    resource = helpers.call_action("resource_create", context={"user": people.commune_editor["name"]},
                                   package_id=dataset["id"], url="https://data.ville-bron.fr/carte.geojson",
                                   name="Carte", format="GeoJSON")
    views = helpers.call_action("resource_view_list", id=resource["id"])
    assert [view["view_type"] for view in views] == ["geojson_view"]


# ------------------------------------------------------------------------------------ the view's page


def _view_page(app: Any, dataset: dict[str, Any]) -> str:
    resource_id = dataset["resources"][0]["id"]
    view = helpers.call_action("resource_view_list", id=resource_id)[0]
    return app.get(f"/dataset/{dataset['name']}/resource/{resource_id}/view/{view['id']}", status=200).get_data(
        as_text=True)


def _map_config(page: str) -> dict[str, Any]:
    import html
    import re

    match = re.search(r'data-module-map_config="([^"]*)"', page)
    assert match, "no map configuration in the view's page"
    return json.loads(html.unescape(match.group(1)))


def test_the_view_reads_the_portal_s_endpoint_and_draws_no_tiles_unless_configured(app, people, ckan_config,
                                                                                    monkeypatch):
    dataset = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.geojson")
    page = _view_page(app, dataset)
    assert f'data-module-url="{map_data_url(dataset)}"' in page
    assert "data.ville-bron.fr/equipements.geojson" not in page.split('data-module-url="', 1)[1].split('"', 1)[0]
    assert "resource_proxy" not in page and "/proxy" not in page
    assert _map_config(page) == {}  # no base map: the geometries on a plain background
    assert 'aria-label="Carte de la ressource Équipements (carte) (les flèches déplacent la carte' in page
    assert "Télécharger les données (GeoJSON)" in page

    monkeypatch.setitem(ckan_config, "ckanext.spatial.common_map.type", "custom")
    monkeypatch.setitem(ckan_config, "ckanext.spatial.common_map.custom.url",
                        "https://tuiles.grandlyon.example/{z}/{x}/{y}.png")
    monkeypatch.setitem(ckan_config, "ckanext.spatial.common_map.attribution", "Fond de carte : Métropole de Lyon")
    config = _map_config(_view_page(app, dataset))
    assert config["type"] == "custom" and config["custom.url"].startswith("https://tuiles.grandlyon.example/")
    assert config["attribution"] == "Fond de carte : Métropole de Lyon"


# ------------------------------------------------------------------------------------ the data endpoint


def test_the_map_data_of_a_public_geojson_link_is_served_through_the_guard(app, people, source_server,
                                                                          allow_private_addresses):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    response = app.get(map_data_url(dataset))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/geo+json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(response.get_data()) == json.loads(GEOJSON_BODY)
    assert source_server.requested("/equipements.geojson") == 1


def test_the_endpoint_takes_no_url_from_the_request(app, people, source_server, allow_private_addresses):
    """No open proxy: a url parameter is ignored, the resource's own address is fetched."""
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/json")
    source_server.serve("/secret.geojson", GEOJSON_BODY, content_type="application/json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    response = app.get(map_data_url(dataset) + "?url=" + source_server.url("/secret.geojson"))
    assert response.status_code == 200
    assert source_server.requested("/secret.geojson") == 0 and source_server.requested("/equipements.geojson") == 1
    # Nor is any unguarded proxy served: neither CKAN's resource_proxy nor geoview's service_proxy.
    endpoints = {rule.endpoint for rule in app.flask_app.url_map.iter_rules()}
    assert "communes_map_data.read" in endpoints
    assert not {e for e in endpoints if e.startswith(("resource_proxy.", "service_proxy."))}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"])
def test_a_link_to_a_private_address_is_refused_in_french_and_not_fetched(app, people, source_server, address):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/json")
    dataset = create_map_dataset("bron", f"http://{address}:{source_server.port}/equipements.geojson")
    response = app.get(map_data_url(dataset))
    assert response.status_code == 403
    assert response.json == {"error": "L’adresse de cette ressource n’est pas publique : le portail ne la "
                                      "télécharge pas."}
    assert source_server.requests == []


def test_a_redirect_to_a_private_address_is_refused(app, people, source_server, ckan_config, monkeypatch):
    loopback_only(monkeypatch, ckan_config)
    source_server.serve("/direct.geojson", GEOJSON_BODY, content_type="application/json")
    source_server.redirect("/equipements.geojson", "http://169.254.169.254/latest/meta-data/")
    direct = create_map_dataset("bron", source_server.url("/direct.geojson"), name="direct")
    assert app.get(map_data_url(direct)).status_code == 200  # the fixture server itself is allowed
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    response = app.get(map_data_url(dataset))
    assert response.status_code == 403
    assert "n’est pas publique" in response.json["error"]


@pytest.mark.parametrize("role, status", [("anonymous", 404), ("other_admin", 404), ("commune_editor", 200),
                                          ("sysadmin", 200)])
def test_the_map_data_of_a_private_dataset_is_served_only_to_who_may_read_it(
        app, people, source_server, allow_private_addresses, role, status):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"), private=True)
    token = people.token(role)
    response = app.get(map_data_url(dataset), headers={"Authorization": token} if token else {})
    assert response.status_code == status
    if status == 404:
        assert response.json == {"error": "Ressource introuvable"}
        assert source_server.requests == []
    else:
        directives = {part.strip() for part in response.headers["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives and "public" not in directives


def test_a_resource_under_another_dataset_s_name_is_not_served(app, people, source_server, allow_private_addresses):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/json")
    private = create_map_dataset("bron", source_server.url("/equipements.geojson"), private=True, name="prive")
    public = create_map_dataset("bron", source_server.url("/equipements.geojson"), name="public")
    response = app.get(f"/dataset/{public['name']}/resource/{private['resources'][0]['id']}/map-data")
    assert response.status_code == 404
    assert source_server.requests == []


def test_a_file_larger_than_the_limit_is_refused_in_french(app, people, source_server, allow_private_addresses,
                                                           ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.map.max_bytes", "1000")
    source_server.serve("/grand.geojson", GEOJSON_BODY + " " * 2000, content_type="application/json")
    # No Content-Length: the limit is counted as the body comes.
    source_server.handle("/sans-longueur.geojson", lambda method, path, query, body: (
        200, {"Content-Type": "application/json"}, GEOJSON_BODY + " " * 2000))
    for path in ("/grand.geojson", "/sans-longueur.geojson"):
        dataset = create_map_dataset("bron", source_server.url(path), name=path.strip("/").split(".")[0])
        response = app.get(map_data_url(dataset))
        assert response.status_code == 502, path
        assert response.json == {"error": "Les données de cette ressource dépassent la limite de 1000 octets "
                                          "de la carte ; téléchargez-les plutôt."}, path


@pytest.mark.parametrize("body, content_type, expected", [
    ("<html><body>Connexion requise</body></html>", "text/html",
     "Les données de cette ressource ne sont pas du GeoJSON (le serveur a envoyé text/html)."),
    ("nom,type\nStade,stade\n", "text/plain", "Les données de cette ressource ne sont pas du JSON valide."),
    ('{"nom": "Stade"}', "application/json", "Les données de cette ressource sont du JSON mais pas du GeoJSON."),
])
def test_what_is_not_geojson_is_refused_in_french(app, people, source_server, allow_private_addresses,
                                                  body, content_type, expected):
    source_server.serve("/equipements.geojson", body, content_type=content_type)
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    response = app.get(map_data_url(dataset))
    assert response.status_code == 502
    assert response.json == {"error": expected}


def test_a_resource_of_another_format_has_no_map_data(app, people):
    dataset = create_map_dataset("bron", "https://data.ville-bron.fr/equipements.csv", resource_format="CSV")
    response = app.get(map_data_url(dataset))
    assert response.status_code == 404
    assert response.json == {"error": "Cette ressource n’est pas affichée sur une carte."}


def test_a_wfs_link_is_read_as_a_getfeature_in_geojson_of_its_layer(app, people, source_server,
                                                                   allow_private_addresses):
    asked: list[str] = []

    def wfs(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        asked.append(query)
        return 200, {"Content-Type": "application/json;charset=UTF-8"}, GEOJSON_BODY

    source_server.handle("/geoserver/wfs", wfs)
    dataset = create_map_dataset("bron", source_server.url("/geoserver/wfs?map=bron&request=GetCapabilities"
                                                           "#bron:equipements"), resource_format="WFS")
    response = app.get(map_data_url(dataset))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json.loads(response.get_data()) == json.loads(GEOJSON_BODY)
    from urllib.parse import parse_qs

    query = {k: v[0] for k, v in parse_qs(asked[0]).items()}
    assert query == {"map": "bron", "service": "WFS", "version": "1.1.0", "request": "GetFeature",
                     "typeName": "bron:equipements", "outputFormat": "application/json", "srsName": "EPSG:4326",
                     "maxFeatures": "5000"}


def test_a_wfs_link_without_a_layer_shows_the_first_of_its_capabilities(app, people, source_server,
                                                                       allow_private_addresses):
    capabilities = ('<?xml version="1.0"?><wfs:WFS_Capabilities xmlns:wfs="http://www.opengis.net/wfs">'
                    '<FeatureTypeList><FeatureType><Name>bron:arbres</Name></FeatureType>'
                    '<FeatureType><Name>bron:parcs</Name></FeatureType></FeatureTypeList></wfs:WFS_Capabilities>')
    asked: list[str] = []

    def wfs(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        asked.append(query)
        if "GetCapabilities" in query:
            return 200, {"Content-Type": "application/xml"}, capabilities
        return 200, {"Content-Type": "application/json"}, GEOJSON_BODY

    source_server.handle("/wfs", wfs)
    dataset = create_map_dataset("bron", source_server.url("/wfs"), resource_format="WFS")
    assert app.get(map_data_url(dataset)).status_code == 200
    assert "typeName=bron%3Aarbres" in asked[1]


def _mapserver_capabilities(*formats: str) -> str:
    """A WFS 1.1.0 capabilities document as MapServer writes it: GetFeature's output formats in OWS metadata."""
    values = "".join(f"<ows:Value>{value}</ows:Value>" for value in formats)
    return ('<?xml version="1.0"?><wfs:WFS_Capabilities xmlns:wfs="http://www.opengis.net/wfs" '
            'xmlns:ows="http://www.opengis.net/ows"><ows:OperationsMetadata>'
            '<ows:Operation name="GetCapabilities"><ows:Parameter name="AcceptFormats"><ows:Value>text/xml'
            '</ows:Value></ows:Parameter></ows:Operation>'
            f'<ows:Operation name="GetFeature"><ows:Parameter name="outputFormat">{values}</ows:Parameter>'
            '</ows:Operation></ows:OperationsMetadata><FeatureTypeList><FeatureType><Name>ms:arbres</Name>'
            '</FeatureType></FeatureTypeList></wfs:WFS_Capabilities>')


EXCEPTION_REPORT = ('<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows"><ows:Exception '
                    'exceptionCode="InvalidParameterValue" locator="outputformat"><ows:ExceptionText>'
                    'msWFSGetFeature(): Unsupported outputformat</ows:ExceptionText></ows:Exception>'
                    '</ows:ExceptionReport>')


def _mapserver(capabilities: str, asked: list[dict[str, str]]):
    """MapServer's WFS: GeoJSON under its own names only; any other output format an exception report (200)."""
    from urllib.parse import parse_qs

    def wfs(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        parameters = {k.lower(): v[0] for k, v in parse_qs(query).items()}
        asked.append(parameters)
        if parameters.get("request") == "GetCapabilities":
            return 200, {"Content-Type": "text/xml"}, capabilities
        if parameters.get("outputformat") in ("application/json; subtype=geojson", "geojson"):
            return 200, {"Content-Type": "application/json; subtype=geojson"}, GEOJSON_BODY
        return 200, {"Content-Type": "text/xml; charset=UTF-8"}, EXCEPTION_REPORT

    return wfs


def test_a_mapserver_wfs_refusing_application_json_is_asked_again_in_its_own_geojson_format(
        app, people, source_server, allow_private_addresses):
    """The Métropole's and many communes' WFS run on MapServer, whose GeoJSON is « application/json;
    subtype=geojson »: the default name gets an exception report, the advertised one the data."""
    asked: list[dict[str, str]] = []
    source_server.handle("/wfs/grandlyon", _mapserver(_mapserver_capabilities(
        "text/xml; subtype=gml/3.1.1", "application/json; subtype=geojson", "SHAPEZIP"), asked))
    dataset = create_map_dataset("bron", source_server.url("/wfs/grandlyon#ms:arbres"), resource_format="WFS")
    response = app.get(map_data_url(dataset))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert json.loads(response.get_data()) == json.loads(GEOJSON_BODY)
    assert [(a["request"], a.get("outputformat")) for a in asked] == [
        ("GetFeature", "application/json"), ("GetCapabilities", None),
        ("GetFeature", "application/json; subtype=geojson")]
    assert asked[2]["typename"] == "ms:arbres"
    # Kept: the next view asks nothing.
    assert app.get(map_data_url(dataset)).status_code == 200 and len(asked) == 3


def test_a_wfs_link_without_a_layer_asks_the_geojson_format_its_capabilities_advertise_at_once(
        app, people, source_server, allow_private_addresses):
    asked: list[dict[str, str]] = []
    source_server.handle("/wfs", _mapserver(_mapserver_capabilities("GML2", "geojson"), asked))
    dataset = create_map_dataset("bron", source_server.url("/wfs"), resource_format="WFS")
    assert app.get(map_data_url(dataset)).status_code == 200
    assert [(a["request"], a.get("outputformat")) for a in asked] == [("GetCapabilities", None),
                                                                     ("GetFeature", "geojson")]


def test_the_json_output_format_a_wfs_link_names_is_asked_as_it_is(app, people, source_server,
                                                                   allow_private_addresses):
    asked: list[dict[str, str]] = []
    source_server.handle("/wfs", _mapserver(_mapserver_capabilities(), asked))
    link = ("/wfs?SERVICE=WFS&VERSION=2.0.0&request=GetFeature&typename=ms:arbres"
            "&outputFormat=application/json;%20subtype=geojson&SRSNAME=EPSG:4171")
    dataset = create_map_dataset("bron", source_server.url(link), resource_format="WFS")
    assert app.get(map_data_url(dataset)).status_code == 200
    assert [(a["request"], a.get("outputformat")) for a in asked] == [
        ("GetFeature", "application/json; subtype=geojson")]


def test_a_wfs_offering_no_geojson_is_a_french_error_after_one_look_at_its_capabilities(
        app, people, source_server, allow_private_addresses):
    asked: list[dict[str, str]] = []
    source_server.handle("/wfs", _mapserver(_mapserver_capabilities("GML2", "text/xml; subtype=gml/3.1.1"), asked))
    dataset = create_map_dataset("bron", source_server.url("/wfs#ms:arbres"), resource_format="WFS")
    response = app.get(map_data_url(dataset))
    assert response.status_code == 502
    assert response.json["error"].startswith("Les données de cette ressource ne sont pas du GeoJSON"), response.json
    assert [a["request"] for a in asked] == ["GetFeature", "GetCapabilities"]


def test_an_uploaded_geojson_is_read_from_the_storage(app, people, create_with_upload):
    dataset = create_map_dataset("bron", "https://data.ville-bron.fr/autre.geojson")
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    resource = create_with_upload(GEOJSON_BODY, "equipements.geojson", package_id=dataset["id"],
                                  format="GeoJSON", context={"user": site_user})
    response = app.get(f"/dataset/{dataset['name']}/resource/{resource['id']}/map-data")
    assert response.status_code == 200
    assert json.loads(response.get_data()) == json.loads(GEOJSON_BODY)
    model.Session.remove()


# ------------------------------------------------------------------------------------ the cache


def _views(app: Any, dataset: dict[str, Any], count: int, token: str | None = None) -> list[Any]:
    return [app.get(map_data_url(dataset), headers={"Authorization": token} if token else {}) for _ in range(count)]


def _directives(response: Any) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",") if part.strip()}


def test_two_views_ask_the_source_once(app, people, source_server, allow_private_addresses):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    first, second = _views(app, dataset, 2)
    assert first.status_code == second.status_code == 200
    assert json.loads(second.get_data()) == json.loads(GEOJSON_BODY)
    assert second.headers["Content-Type"].startswith("application/geo+json")
    assert source_server.requested("/equipements.geojson") == 1


def test_a_changed_link_is_fetched_again_at_once(app, people, source_server, allow_private_addresses):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    moved = json.dumps({"type": "FeatureCollection", "features": []})
    source_server.serve("/equipements-2025.geojson", moved, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    _views(app, dataset, 2)
    assert source_server.requested("/equipements.geojson") == 1
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset["resources"][0]["url"] = source_server.url("/equipements-2025.geojson")
    dataset = helpers.call_action("package_update", context={"user": site_user}, **dataset)
    responses = _views(app, dataset, 2)
    assert [json.loads(r.get_data()) for r in responses] == [json.loads(moved)] * 2
    assert source_server.requested("/equipements-2025.geojson") == 1
    assert source_server.requested("/equipements.geojson") == 1


def test_a_wfs_link_is_cached_per_layer(app, people, source_server, allow_private_addresses):
    """The layer named by the link is part of the key: another layer of the same service is fetched anew."""
    asked: list[str] = []

    def wfs(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        asked.append(query)
        return 200, {"Content-Type": "application/json"}, GEOJSON_BODY

    source_server.handle("/wfs", wfs)
    dataset = create_map_dataset("bron", source_server.url("/wfs#bron:arbres"), resource_format="WFS")
    assert [r.status_code for r in _views(app, dataset, 2)] == [200, 200]
    assert len(asked) == 1
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset["resources"][0]["url"] = source_server.url("/wfs#bron:parcs")
    dataset = helpers.call_action("package_update", context={"user": site_user}, **dataset)
    assert [r.status_code for r in _views(app, dataset, 2)] == [200, 200]
    assert len(asked) == 2 and "typeName=bron%3Aparcs" in asked[1]


def test_an_edit_of_the_resource_fetches_again(app, people, source_server, allow_private_addresses):
    """The commune fixed its file and says so on the resource (its date, or any edit of it): the next view
    shows the new data, not the kept one."""
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    resource_id = dataset["resources"][0]["id"]
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    _views(app, dataset, 2)
    assert source_server.requested("/equipements.geojson") == 1
    helpers.call_action("resource_patch", context={"user": site_user}, id=resource_id,
                        last_modified="2026-12-01T08:00:00")
    _views(app, dataset, 2)
    assert source_server.requested("/equipements.geojson") == 2
    helpers.call_action("resource_patch", context={"user": site_user}, id=resource_id,
                        description="Mis à jour le 2 décembre.")
    _views(app, dataset, 2)
    assert source_server.requested("/equipements.geojson") == 3


def test_the_data_is_kept_in_redis_under_the_site_s_namespace_for_cache_seconds(app, people, source_server,
                                                                              allow_private_addresses, ckan_config):
    from ckan.lib.redis import connect_to_redis

    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    resource_id = dataset["resources"][0]["id"]
    redis = connect_to_redis()
    pattern = f"communes:map:{ckan_config['ckan.site_id']}:data:{resource_id}:*"
    assert redis.keys(pattern) == []
    app.get(map_data_url(dataset))
    keys = redis.keys(pattern)
    assert len(keys) == 1
    assert json.loads(redis.get(keys[0])) == json.loads(GEOJSON_BODY)
    assert 290 < redis.ttl(keys[0]) <= 300


def test_cache_seconds_0_asks_the_source_at_each_view(app, people, source_server, allow_private_addresses,
                                                      ckan_config, monkeypatch):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    source_server.serve("/autre.geojson", GEOJSON_BODY, content_type="application/geo+json")
    cached = create_map_dataset("bron", source_server.url("/autre.geojson"), name="avec-cache")
    _views(app, cached, 3)
    assert source_server.requested("/autre.geojson") == 1  # the default: cached
    monkeypatch.setitem(ckan_config, "ckanext.communes.map.cache_seconds", "0")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    responses = _views(app, dataset, 3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert source_server.requested("/equipements.geojson") == 3
    # No cache, no promise to the browser either: CKAN's own header (ckan.cache_expires, 0 in test.ini).
    assert "max-age=300" not in _directives(responses[0])


def test_a_remote_failure_is_not_cached(app, people, source_server, allow_private_addresses):
    answers = iter([(500, "erreur"), (200, GEOJSON_BODY)])

    def flaky(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], str]:
        status, text = next(answers, (200, GEOJSON_BODY))
        return status, {"Content-Type": "application/geo+json"}, text

    source_server.handle("/equipements.geojson", flaky)
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    failed, served, again = _views(app, dataset, 3)
    assert failed.status_code == 502 and failed.json == {"error": "Le serveur de cette ressource a répondu HTTP 500."}
    assert "no-store" in _directives(failed)
    assert served.status_code == again.status_code == 200
    assert json.loads(again.get_data()) == json.loads(GEOJSON_BODY)
    assert source_server.requested("/equipements.geojson") == 2  # the failure retried, the success kept


def test_what_is_not_geojson_is_not_cached(app, people, source_server, allow_private_addresses):
    source_server.serve("/equipements.geojson", "<html>maintenance</html>", content_type="text/html")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    assert [r.status_code for r in _views(app, dataset, 2)] == [502, 502]
    assert source_server.requested("/equipements.geojson") == 2
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    assert [r.status_code for r in _views(app, dataset, 2)] == [200, 200]
    assert source_server.requested("/equipements.geojson") == 3


@pytest.mark.parametrize("role", ["anonymous", "other_admin"])
def test_a_cached_private_resource_stays_404_for_who_may_not_read_it(app, people, source_server,
                                                                     allow_private_addresses, role):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"), private=True)
    editor = people.token("commune_editor")
    assert [r.status_code for r in _views(app, dataset, 2, editor)] == [200, 200]
    assert source_server.requested("/equipements.geojson") == 1  # in the cache now
    response = app.get(map_data_url(dataset), headers={"Authorization": people.token(role)} if role != "anonymous"
                       else {})
    assert response.status_code == 404
    assert response.json == {"error": "Ressource introuvable"}
    assert "Stade" not in response.get_data(as_text=True)
    assert "public" not in _directives(response)


@pytest.mark.parametrize("private, role, expected", [
    (False, "anonymous", {"public", "max-age=300"}),
    (False, "commune_editor", {"public", "max-age=300"}),
    (True, "commune_editor", {"private", "no-store"}),
    (True, "sysadmin", {"private", "no-store"}),
])
def test_the_cache_control_header_says_who_may_keep_the_data(app, people, source_server, allow_private_addresses,
                                                             private, role, expected):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"), private=private)
    for response in _views(app, dataset, 2, people.token(role)):  # fetched, then from the cache: same header
        assert response.status_code == 200
        directives = _directives(response)
        assert expected <= directives, directives
        assert not ({"public", "private"} <= directives)
        assert "must-revalidate" not in directives or not private


def test_the_public_max_age_follows_cache_seconds(app, people, source_server, allow_private_addresses,
                                                  ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.map.cache_seconds", "60")
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    assert {"public", "max-age=60"} <= _directives(app.get(map_data_url(dataset)))


@pytest.mark.parametrize("resource_id", [
    pytest.param("x" * 5000, id="huge"), pytest.param("%00", id="nul"), pytest.param("not-a-uuid", id="word"),
    pytest.param("' OR 1=1 --", id="sql"), pytest.param("%E9t%C3", id="bad-utf8")])
def test_junk_resource_ids_are_404_even_with_a_cached_resource(app, people, source_server, allow_private_addresses,
                                                                resource_id):
    source_server.serve("/equipements.geojson", GEOJSON_BODY, content_type="application/geo+json")
    dataset = create_map_dataset("bron", source_server.url("/equipements.geojson"))
    assert app.get(map_data_url(dataset)).status_code == 200
    response = app.get(f"/dataset/{dataset['name']}/resource/{resource_id}/map-data")
    assert response.status_code == 404
    assert source_server.requested("/equipements.geojson") == 1


# ------------------------------------------------------------------------------------ harvested


@pytest.mark.usefixtures("clean_index", "allow_private_addresses")
def test_a_harvested_geojson_resource_gets_one_map_view_through_creation_and_update(tmp_path, source_server):
    """An Opendatasoft catalogue harvested for real (tests/harvesters/test_ods_harvest.py's fixture server): its
    GeoJSON exports get the map, its other resources none; harvested again with a change, still one map each."""
    from ckan.tests import factories

    from ckanext.communes.communes import seeding
    from ckanext.communes.harvesters import jobs
    from ckanext.communes.tests.communes.conftest import write_communes_csv
    from ckanext.communes.tests.harvesters.checks import harvested
    from ckanext.communes.tests.harvesters.test_ods_harvest import COMMUNES, RemoteODS, fixture_datasets, make_source

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source({"sysadmin": factories.Sysadmin()}, remote.url)
    assert jobs.run_source(source["id"])["status"] == "Finished"

    def map_views() -> dict[str, list[str]]:
        return {f"{title} / {resource['format']}": [view["view_type"] for view in helpers.call_action(
                    "resource_view_list", id=resource["id"])]
                for title, dataset in harvested(source["id"]).items() for resource in dataset["resources"]}

    views = map_views()
    assert views["Arbres d'alignement de Bron / GeoJSON"] == ["geojson_view"]
    assert views["Arbres d'alignement de Bron / CSV"] == []
    assert all(found == (["geojson_view"] if name.endswith("/ GeoJSON") else []) for name, found in views.items())

    changed = fixture_datasets()
    changed[0]["metas"]["default"]["title"] = changed[0]["metas"]["default"]["title"] + " (mis à jour)"
    remote.datasets = changed
    assert jobs.run_source(source["id"])["status"] == "Finished"
    again = map_views()
    assert sum(found == ["geojson_view"] for found in again.values()) == sum(
        found == ["geojson_view"] for found in views.values())
    assert all(len(found) <= 1 for found in again.values())
