"""The maps of place search in Chromium (Playwright): a reuser draws a rectangle around Villeurbanne on the search
page's map and the results narrow to its datasets, the area stays in the address with a facet; the dataset page
shows its extent, the commune page its territory and the link to its datasets; the maps are keyboard-usable; no
request leaves the portal unless an operator configures a tile server, and then the attribution is French.
Screenshots: test-artifacts/screenshots/maps-*.png. One portal for the module (two communes, three datasets)."""

from __future__ import annotations

import http.server
import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import registry, seeding
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.test_browser_smoke import _outside_requests

VILLEURBANNE, GIVORS = "69266", "69091"


@pytest.fixture(scope="module")
def map_portal(tmp_path_factory) -> None:
    """Villeurbanne (trees, budget) and Givors (trees), seeded from the commune registry."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        path = tmp_path_factory.mktemp("maps") / "communes.csv"
        seeding.seed(path=str(write_communes_csv(path, (VILLEURBANNE, GIVORS))))
        sysadmin = factories.Sysadmin()
        for name, org, theme in (("arbres-villeurbanne", "villeurbanne", "ENVI"),
                                 ("budget-villeurbanne", "villeurbanne", "ECON"),
                                 ("arbres-givors", "givors", "ENVI")):
            helpers.call_action("package_create", context={"user": sysadmin["name"]}, name=name,
                                title=name.replace("-", " ").capitalize(), notes="Données.", owner_org=org,
                                theme=[theme], license_id="etalab-2.0")


def _listed(page: Any) -> set[str]:
    hrefs = page.locator("#search-results a[href^='/dataset/']").evaluate_all("links => links.map(a => a.pathname)")
    return {href.split("/")[2] for href in hrefs if href.count("/") == 2 and href.split("/")[2]}


def _map_point(page: Any, longitude: float, latitude: float) -> tuple[float, float]:
    """Where a place is on the page (pixels), asked of the search map's Leaflet map."""
    point = page.evaluate(
        """([lng, lat]) => { const map = ckan.module.instances['communes-map'][0].map;
                             const p = map.latLngToContainerPoint([lat, lng]);
                             const box = map.getContainer().getBoundingClientRect();
                             return [box.left + p.x, box.top + p.y]; }""", [longitude, latitude])
    return point[0], point[1]


def _pane_transform(page: Any, canvas: str) -> str:
    return page.locator(f"{canvas} .leaflet-map-pane").get_attribute("style") or ""


@pytest.mark.usefixtures("map_portal")
def test_a_reuser_draws_an_area_on_the_map_and_the_results_narrow_to_it(live_server, browser_page, screenshot):
    page = browser_page
    outside = _outside_requests(page, live_server)
    page.goto(live_server + "/dataset/")
    page.wait_for_load_state("networkidle")
    assert _listed(page) == {"arbres-villeurbanne", "budget-villeurbanne", "arbres-givors"}
    canvas = page.locator("#communes-search-map")
    assert "leaflet-container" in canvas.get_attribute("class")
    assert canvas.get_attribute("aria-label") == "Carte de la zone recherchée"
    screenshot("maps-search-before")

    # The keyboard: the map takes the focus and its arrows pan it.
    before = _pane_transform(page, "#communes-search-map")
    canvas.focus()
    assert page.evaluate("() => document.activeElement.id") == "communes-search-map"
    page.keyboard.press("ArrowRight")
    # The pan is animated: the rectangle below is drawn where the map is once it has stopped.
    page.wait_for_function("([s, before]) => document.querySelector(s).getAttribute('style') !== before"
                           " && !document.querySelector(s).classList.contains('leaflet-pan-anim')",
                           arg=["#communes-search-map .leaflet-map-pane", before])
    assert _pane_transform(page, "#communes-search-map") != before

    # A rectangle around the middle of Villeurbanne, drawn with the mouse.
    page.get_by_role("link", name="Dessiner un rectangle").click()
    west, south, east, north = registry.get_commune_geometry(VILLEURBANNE).bbox
    start = _map_point(page, west + (east - west) * 0.3, north - (north - south) * 0.3)
    end = _map_point(page, east - (east - west) * 0.3, south + (north - south) * 0.3)
    with page.expect_navigation():
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=8)
        page.mouse.up()
    page.wait_for_load_state("networkidle")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    drawn = [float(n) for n in query["ext_bbox"][0].split(",")]
    assert west < drawn[0] < drawn[2] < east and south < drawn[1] < drawn[3] < north, drawn
    assert _listed(page) == {"arbres-villeurbanne", "budget-villeurbanne"}
    assert "Villeurbanne" in page.locator("#communes-search-map-text").inner_text()
    assert page.locator("#communes-search-map path.leaflet-interactive, #communes-search-map path").count() >= 2
    screenshot("maps-search-drawn")

    # A facet keeps the area (the address is the search).
    page.locator("#search-facets a[href*='vocab_theme=ENVI']").first.click()
    page.wait_for_url(re.compile(r".*vocab_theme=ENVI.*"))
    page.wait_for_load_state("networkidle")
    assert "ext_bbox=" in page.url
    assert _listed(page) == {"arbres-villeurbanne"}
    screenshot("maps-search-facet")

    # The dataset page: its extent, and the text saying it.
    page.goto(live_server + "/dataset/arbres-villeurbanne")
    page.wait_for_load_state("networkidle")
    dataset_map = page.locator("#communes-dataset-map")
    assert "leaflet-container" in dataset_map.get_attribute("class")
    assert dataset_map.locator("path").count() >= 1
    assert "Villeurbanne" in page.locator("#communes-dataset-map-text").inner_text()
    screenshot("maps-dataset")

    # The commune page: its territory, and the link to the datasets on it.
    page.goto(live_server + "/organization/givors")
    page.wait_for_load_state("networkidle")
    assert page.locator("#communes-commune-map path").count() >= 1
    assert "Givors" in page.locator("#communes-commune-map-text").inner_text()
    screenshot("maps-commune")
    page.get_by_role("link", name="Jeux de données sur ce territoire").click()
    page.wait_for_url(re.compile(r".*ext_bbox=.*"))
    page.wait_for_load_state("networkidle")
    assert "arbres-givors" in _listed(page) and not _listed(page) & {"arbres-villeurbanne", "budget-villeurbanne"}

    assert not outside, "requests to outside hosts:\n" + "\n".join(outside)


@pytest.mark.usefixtures("map_portal")
def test_the_keyboard_searches_by_commune_without_drawing(live_server, browser_page):
    page = browser_page
    page.goto(live_server + "/dataset/?vocab_theme=ENVI")
    page.get_by_label("Chercher sur le territoire d'une commune").select_option(label="Givors")
    with page.expect_navigation():
        page.get_by_role("button", name="Chercher dans cette zone").press("Enter")
    assert "vocab_theme=ENVI" in page.url and "ext_bbox=" in page.url
    assert _listed(page) == {"arbres-givors"}


class _TileServer(http.server.BaseHTTPRequestHandler):
    """A tile server on 127.0.0.1: any path is a grey 1 x 1 PNG; the paths asked are recorded."""

    PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010800000000"
                        "3a7e9b550000000a49444154789c63f80f00000101000518d84e0000000049454e44ae426082")
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.PNG)))
        self.end_headers()
        self.wfile.write(self.PNG)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tile_server(ckan_config, monkeypatch) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TileServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(ckan_config, "ckanext.spatial.common_map.type", "custom")
    monkeypatch.setitem(ckan_config, "ckanext.spatial.common_map.custom_url", base + "/{z}/{x}/{y}.png")
    _TileServer.asked = []
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.usefixtures("map_portal")
def test_a_configured_tile_server_is_used_with_a_french_attribution(live_server, browser_page, tile_server):
    page = browser_page
    page.goto(live_server + "/organization/villeurbanne")
    page.wait_for_load_state("networkidle")
    assert _TileServer.asked and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in _TileServer.asked)
    attribution = page.locator("#communes-commune-map .leaflet-control-attribution").inner_text()
    assert attribution.strip() == "Fond de carte : " + urllib.parse.urlsplit(tile_server).netloc
