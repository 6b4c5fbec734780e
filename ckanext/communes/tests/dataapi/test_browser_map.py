"""The map preview in Chromium (issue #23 item 4): a GeoJSON link (served on 127.0.0.1) is drawn on the resource
page with the portal's own Leaflet, from the portal's guarded endpoint, with no request to any other host (not
even the resource's own server: the browser never fetches it) and no tiles; the map takes the keyboard's focus and
moves with the arrows; the text under it gives the number of features and their extent; axe-core finds no WCAG 2.1
AA violation on the resource page nor in the map's frame."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.dataapi.test_browser_previews import _axe_violations
from ckanext.communes.tests.shared import ENVI

pytestmark = [pytest.mark.with_plugins("communes_geojson_view"), pytest.mark.usefixtures("clean_db")]

GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"nom": "Stade Pierre Duboeuf", "note": "<img src=x onerror=alert(1)>"},
     "geometry": {"type": "Point", "coordinates": [4.9272, 45.7402]}},
    {"type": "Feature", "properties": {"nom": "Parc de Parilly"},
     "geometry": {"type": "Polygon", "coordinates": [[[4.89, 45.71], [4.91, 45.71], [4.91, 45.73], [4.89, 45.71]]]}},
    {"type": "Feature", "properties": {"nom": "Boulevard urbain est"},
     "geometry": {"type": "LineString", "coordinates": [[4.93, 45.72], [4.95, 45.75]]}},
]})


def test_a_geojson_link_is_drawn_offline_keyboard_usable_and_described(
        bron, source_server, allow_private_addresses, live_server, browser_page, screenshot):
    source_server.serve("/equipements.geojson", GEOJSON, content_type="application/geo+json")
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset = helpers.call_action(
        "package_create", context={"user": site_user}, name="equipements-bron", title="Équipements de Bron",
        notes="Les équipements.", theme=[ENVI], owner_org=bron["id"], license_id="etalab-2.0",
        resources=[{"url": source_server.url("/equipements.geojson"), "name": "Équipements (GeoJSON)",
                    "format": "GeoJSON"}])
    resource = dataset["resources"][0]
    page = browser_page
    portal = urlsplit(live_server).netloc
    elsewhere: list[str] = []
    page.on("request", lambda request: None if urlsplit(request.url).netloc == portal or request.url.startswith(
        ("data:", "about:", "blob:")) else elsewhere.append(request.url))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    response = page.goto(f"{live_server}/dataset/{dataset['name']}/resource/{resource['id']}")
    assert response is not None and response.status == 200
    frame_locator = page.frame_locator("iframe").first
    view = frame_locator.locator('[data-module="communes-map-view"]')
    view.and_(frame_locator.locator('[data-map-ready="drawn"]')).wait_for()
    page.wait_for_load_state("networkidle")
    frame = next(f for f in page.frames if "/view/" in f.url)

    # Drawn: a circle for the point, a path for the polygon and one for the line; no tile.
    assert frame.locator(".leaflet-overlay-pane path").count() == 3
    assert frame.locator(".leaflet-tile").count() == 0
    summary = frame.locator("#communes-map-summary").inner_text()
    assert summary == ("La carte montre 3 objets. Emprise : longitudes 4,89 à 4,95, latitudes 45,71 à 45,75."), summary
    download = frame.locator(".communes-map-text a")
    assert download.inner_text() == "Télécharger les données (GeoJSON)"
    assert download.get_attribute("href") == source_server.url("/equipements.geojson")
    map_element = frame.locator("#communes-map")
    assert map_element.get_attribute("aria-label").startswith("Carte de la ressource Équipements (GeoJSON)")
    assert [title for title in frame.locator(".leaflet-control-zoom a").evaluate_all(
        "links => links.map(a => a.title)")] == ["Zoom avant", "Zoom arrière"]  # the maps of place search say the same
    screenshot("dataapi-map-preview")

    # Keyboard: Tab from the top of the page reaches the map; the arrows move it.
    page.locator("body").focus()
    for _ in range(200):
        page.keyboard.press("Tab")
        if frame.evaluate("() => document.activeElement && document.activeElement.id") == "communes-map":
            break
    else:
        pytest.fail("the map is not reachable with Tab")
    pane = frame.locator(".leaflet-map-pane")
    before = pane.evaluate("e => e.style.transform")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("([e, before]) => e.style.transform !== before", arg=[pane.element_handle(), before])
    # The pan is animated: a click while the shapes still move lands where they were (the popup then never opened,
    # about one run in 30). Leaflet removes this class when the animation ends.
    page.wait_for_function("e => !e.classList.contains('leaflet-pan-anim')", arg=pane.element_handle())

    # A popup shows the properties, escaped (a value is never HTML in the portal's own frame).
    frame.locator(".leaflet-overlay-pane path").first.click(force=True)
    popup = frame.locator(".leaflet-popup-content")
    popup.wait_for()
    screenshot("dataapi-map-preview-popup")
    assert dialogs == [] and popup.locator("img").count() == 0

    # Only the portal was asked: not the resource's server (the data came through the guarded endpoint), no tiles.
    assert elsewhere == []
    assert source_server.requested("/equipements.geojson") == 1

    problems = _axe_violations(page) + _axe_violations(frame)
    assert problems == [], "\n".join(problems)


LAMBERT_93 = json.dumps({"type": "FeatureCollection",
                         "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
                         "features": [{"type": "Feature", "properties": {"nom": "Mairie de Bron"},
                                       "geometry": {"type": "Point", "coordinates": [849000, 6517000]}}]})


def test_a_geojson_in_lambert_93_is_drawn_where_it_lies(bron, source_server, allow_private_addresses, live_server,
                                                        browser_page):
    """Lambert-93 (EPSG:2154), the projection of many French communal files, as the GeoJSON's named crs."""
    source_server.serve("/mairie.geojson", LAMBERT_93, content_type="application/geo+json")
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    dataset = helpers.call_action(
        "package_create", context={"user": site_user}, name="mairie-bron", title="Mairie de Bron", notes="La mairie.",
        theme=[ENVI], owner_org=bron["id"], license_id="etalab-2.0",
        resources=[{"url": source_server.url("/mairie.geojson"), "name": "Mairie", "format": "GeoJSON"}])
    browser_page.goto(f"{live_server}/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}")
    frame = browser_page.frame_locator("iframe").first
    frame.locator("[data-map-ready]").wait_for()
    assert frame.locator("[data-map-ready]").get_attribute("data-map-ready") == "drawn"
    assert frame.locator("#communes-map-summary").inner_text() == (
        "La carte montre 1 objet. Emprise : longitudes 4,9162 à 4,9162, latitudes 45,7363 à 45,7363.")
