"""Maps of place search (issue #24, item 3) as the pages render them: the search page's map with the area
searched and its keyboard alternative (a commune or four coordinates, /dataset/lieu), the dataset page's extent,
a commune page's box and its « Jeux de données sur ce territoire » link; each map with its text alternative.
What the browser does with them is in test_maps_browser.py."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from bs4 import BeautifulSoup

from ckanext.communes.communes import registry
from ckanext.communes.tests.spatial.test_place_search import (  # noqa: F401 - places: a fixture
    AROUND_GIVORS,
    NARROW_EXTENT,
    places,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "places")


def _map(html: str, kind: str) -> tuple[Any, BeautifulSoup]:
    soup = BeautifulSoup(html, "html.parser")
    maps = soup.select(f'[data-module="communes-map"][data-module-kind="{kind}"]')
    assert len(maps) == 1, soup.select('[data-module="communes-map"]')
    return maps[0], soup


def _points(element: Any) -> list[list[float]]:
    geometry = json.loads(element["data-module-extent"])
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [point for polygon in polygons for ring in polygon for point in ring]


def _extent_bbox(element: Any) -> tuple[float, float, float, float]:
    points = _points(element)
    longitudes, latitudes = [p[0] for p in points], [p[1] for p in points]
    return min(longitudes), min(latitudes), max(longitudes), max(latitudes)


def _text_alternative(element: Any, soup: BeautifulSoup) -> str:
    """The map's canvas is a named region described by a visible sentence: the text alternative."""
    canvas = element.select_one(".communes-map-canvas")
    assert canvas["role"] == "region" and canvas["aria-label"].startswith("Carte"), canvas
    described = soup.find(id=canvas["aria-describedby"])
    assert described is not None
    return " ".join(described.get_text(" ").split())


def test_a_dataset_page_shows_its_communes_extent_with_the_communes_and_coordinates(app):
    element, soup = _map(app.get("/dataset/arbres-villeurbanne").body, "extent")
    assert _extent_bbox(element) == pytest.approx(registry.get_commune_geometry("69266").bbox)
    text = _text_alternative(element, soup)
    assert "Villeurbanne" in text and "Givors" not in text
    west, south, east, north = registry.get_commune_geometry("69266").bbox
    assert f"{west:.4f}".replace(".", ",") in text and f"{north:.4f}".replace(".", ",") in text, text


def test_a_dataset_with_a_narrower_extent_shows_that_extent(app):
    element, soup = _map(app.get("/dataset/marche-lyon-3e").body, "extent")
    assert _extent_bbox(element) == pytest.approx((4.845, 45.745, 4.86, 45.755))
    text = _text_alternative(element, soup)
    assert "Lyon" in text and "4,8450" in text and "45,7550" in text, text


def test_a_communes_page_shows_its_outline_and_links_to_the_datasets_on_its_territory(app):
    html = app.get("/organization/givors").body
    element, soup = _map(html, "extent")
    box = registry.get_commune_geometry("69091").bbox
    assert len(_points(element)) > 20  # its outline, not its box
    assert _extent_bbox(element) == pytest.approx(box)
    text = _text_alternative(element, soup)
    assert "Contour de Givors" in text and "4,7052" in text, text
    link = soup.find("a", string=lambda s: s and s.strip() == "Jeux de données sur ce territoire")
    assert link is not None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link["href"]).query)
    assert [float(n) for n in query["ext_bbox"][0].split(",")] == pytest.approx(box)
    found = app.get(link["href"]).body
    assert "/dataset/arbres-givors" in found and "/dataset/arbres-villeurbanne" not in found


def test_the_search_page_draws_the_area_searched_and_keeps_it_with_the_facets(app):
    html = app.get("/dataset/", params={"ext_bbox": AROUND_GIVORS, "vocab_theme": "ENVI"}).body
    element, soup = _map(html, "search")
    assert _extent_bbox(element) == pytest.approx((4.71, 45.56, 4.80, 45.61))
    assert "4,7100" in _text_alternative(element, soup)
    form = soup.select_one("form#communes-place-form")
    kept = {i["name"]: i["value"] for i in form.select('input[type="hidden"]')}
    assert kept == {"vocab_theme": "ENVI"}  # the facet kept, the old box replaced by the new one
    values = {i["name"]: i.get("value") for i in form.select("input[type=text]")}
    assert values == {"lieu_ouest": "4.71", "lieu_sud": "45.56", "lieu_est": "4.8", "lieu_nord": "45.61"}
    for field in ("lieu_commune", "lieu_ouest", "lieu_sud", "lieu_est", "lieu_nord"):
        assert soup.select_one(f'label[for="{form.select_one(f"[name={field}]")["id"]}"]').get_text(strip=True)
    clear = soup.find("a", string=lambda s: s and s.strip() == "Effacer la zone")
    assert clear is not None and "ext_bbox" not in clear["href"] and "vocab_theme=ENVI" in clear["href"]


def test_the_search_page_without_a_box_shows_the_metropole_and_says_how_to_search(app):
    element, soup = _map(app.get("/dataset/").body, "search")
    assert "data-module-extent" not in element.attrs
    assert "rectangle" in _text_alternative(element, soup)


def test_the_place_form_searches_by_a_communes_box_keeping_the_filters(app):
    response = app.get("/recherche/lieu", params={"lieu_commune": "69266", "vocab_theme": "ENVI", "q": "arbres",
                                                 "lieu_ouest": "", "lieu_sud": "", "lieu_est": "", "lieu_nord": ""},
                       follow_redirects=False)
    assert response.status_code == 302
    target = urllib.parse.urlsplit(response.headers["Location"])
    query = urllib.parse.parse_qs(target.query)
    assert target.path == "/dataset/" and query["vocab_theme"] == ["ENVI"] and query["q"] == ["arbres"]
    assert not any(key.startswith("lieu_") for key in query)
    assert [float(n) for n in query["ext_bbox"][0].split(",")] == pytest.approx(
        registry.get_commune_geometry("69266").bbox)


def test_the_place_form_searches_by_four_coordinates_with_french_decimal_commas(app):
    response = app.get("/recherche/lieu", params={"lieu_ouest": "4,71", "lieu_sud": "45.56", "lieu_est": " 4.8 ",
                                                 "lieu_nord": "45,61"}, follow_redirects=False)
    assert response.status_code == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["Location"]).query)
    assert query["ext_bbox"] == ["4.71,45.56,4.8,45.61"]


@pytest.mark.parametrize("params, field, words", [
    ({"lieu_ouest": "abc", "lieu_sud": "45.56", "lieu_est": "4.8", "lieu_nord": "45.61"}, "Longitude ouest",
     "nombre"),
    ({"lieu_ouest": "4.71", "lieu_sud": "", "lieu_est": "4.8", "lieu_nord": "45.61"}, "Latitude sud", "manquante"),
    ({"lieu_ouest": "4.71", "lieu_sud": "45.56", "lieu_est": "200", "lieu_nord": "45.61"}, "Longitude est",
     "-180"),
    ({"lieu_ouest": "4.71", "lieu_sud": "45.56", "lieu_est": "4.8", "lieu_nord": "95"}, "Latitude nord", "-90"),
    ({"lieu_ouest": "4.9", "lieu_sud": "45.56", "lieu_est": "4.8", "lieu_nord": "45.61"}, "Longitude est",
     "supérieure"),
    ({"lieu_ouest": "4.71", "lieu_sud": "45.7", "lieu_est": "4.8", "lieu_nord": "45.61"}, "Latitude nord",
     "supérieure"),
    ({"lieu_commune": "75056"}, "Commune", "Métropole"),
    ({"lieu_ouest": "4" * 5000, "lieu_sud": "45.56", "lieu_est": "4.8", "lieu_nord": "45.61"}, "Longitude ouest",
     "nombre"),
    # What the form sends when nothing is filled in: every field, empty.
    ({"lieu_commune": "", "lieu_ouest": "", "lieu_sud": "", "lieu_est": "", "lieu_nord": ""}, "Commune", "choisissez"),
])
def test_the_place_form_refuses_junk_with_a_french_error_naming_the_field(app, params, field, words):
    response = app.get("/recherche/lieu", params={"vocab_theme": "ENVI", **params}, status=400)
    soup = BeautifulSoup(response.body, "html.parser")
    errors = " ".join(e.get_text(" ", strip=True) for e in soup.select(".communes-place-errors li"))
    assert field in errors and words in errors, errors
    form = soup.select_one("form#communes-place-form")  # the form again, the filters still kept
    assert {i["name"]: i["value"] for i in form.select('input[type="hidden"]')} == {"vocab_theme": "ENVI"}


def test_a_visit_to_the_place_search_page_shows_the_form_without_an_error(app):
    """A link or a bookmark to /recherche/lieu sends no field of the form: the form, not a refusal."""
    response = app.get("/recherche/lieu", params={"vocab_theme": "ENVI"}, status=200)
    soup = BeautifulSoup(response.body, "html.parser")
    assert soup.select(".communes-place-errors") == []
    form = soup.select_one("form#communes-place-form")
    assert form.select_one('select[name="lieu_commune"], input[name="lieu_commune"]') is not None
    assert {i["name"]: i["value"] for i in form.select('input[type="hidden"]')} == {"vocab_theme": "ENVI"}
    assert soup.select_one("h1").get_text(strip=True) == "Recherche par lieu"


def test_the_metropoles_page_and_datasets_show_the_metropoles_extent_naming_all_its_communes_at_once(app):
    element, soup = _map(app.get("/organization/metropole-de-lyon").body, "extent")
    assert _extent_bbox(element) == pytest.approx(registry.metropole_bbox())
    element, soup = _map(app.get("/dataset/voirie-metropole").body, "extent")
    text = _text_alternative(element, soup)
    assert "les 58 communes de la Métropole" in text and "Villeurbanne" not in text, text
