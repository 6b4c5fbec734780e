"""Resource formats as CKAN clients expect them (issue #23, item 1): ``format`` stores the short code (``CSV``,
``GeoJSON``, ``WFS``), whatever spelling was typed; ``res_format:CSV`` finds the CSV datasets through the API and
the search page; the DCAT output still says the EU URI; ``ckan communes formats migrate`` turns the URIs stored
before into codes (dry run, report, idempotent, no new metadata_modified, same quality score)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import rdflib
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.tests.shared import CSV, EU, GEOJSON

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

FILE_TYPE = f"{EU}/file-type"
# ckanext-xloader 2.6.0, ckanext/xloader/utils.py DEFAULT_FORMATS: what it loads when ckanext.xloader.formats is
# unset (compared lowercased). Our stored codes of the tabular file types must be in it.
XLOADER_DEFAULT_FORMATS = ("csv", "application/csv", "xls", "xlsx", "tsv", "application/vnd.ms-excel",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ods",
                           "application/vnd.oasis.opendocument.spreadsheet")


def _create(user: dict[str, Any], org: dict[str, Any], name: str, resources: list[dict[str, Any]],
            **fields: Any) -> dict[str, Any]:
    return helpers.call_action(
        "package_create", context={"user": user["name"]}, name=name, title=name.title(),
        notes="Les données de la commune.", owner_org=org["id"], theme=["ENVI"], resources=resources, **fields)


@pytest.mark.parametrize("typed, stored", [
    ("csv", "CSV"), ("CSV", "CSV"), (CSV, "CSV"), ("https://publications.europa.eu/resource/authority/file-type/CSV/",
                                                    "CSV"),
    ("text/csv", "CSV"), ("text/csv; charset=utf-8", "CSV"), (".csv", "CSV"), ("Comma Separated Values File", "CSV"),
    ("geojson", "GeoJSON"), (GEOJSON, "GeoJSON"), ("application/geo+json", "GeoJSON"), (".GeoJSON", "GeoJSON"),
    ("WFS_SRVC", "WFS"), (f"{FILE_TYPE}/WFS_SRVC", "WFS"), ("wms", "WMS"), ("Web Mapping Service", "WMS"),
    ("xlsx", "XLSX"), ("Excel", "XLS"), ("application/vnd.ms-excel", "XLS"), (".ods", "ODS"), ("tsv", "TSV"),
    ("RDF_XML", "RDF"), ("netcdf", "NetCDF"), ("GZIP", "GZ"), ("json_ld", "JSON_LD"), ("pdf", "PDF"),
])
def test_a_format_typed_in_any_spelling_is_stored_as_the_short_code(sysadmin, bron, typed, stored):
    dataset = _create(sysadmin, bron, "export", [{"url": "https://data.ville-bron.fr/export", "format": typed}])
    assert dataset["resources"][0]["format"] == stored


@pytest.mark.parametrize("url, stored", [
    ("https://data.ville-bron.fr/arbres.geojson", "GeoJSON"),
    ("https://data.ville-bron.fr/arbres.csv", "CSV"),
    ("https://geo.ville-bron.fr/ows?SERVICE=WFS&REQUEST=GetCapabilities", "WFS"),
    ("https://data.ville-bron.fr/couche.shp.zip", "SHP"),
])
def test_a_format_guessed_from_the_url_is_stored_as_the_short_code(sysadmin, bron, url, stored):
    assert _create(sysadmin, bron, "export", [{"url": url}])["resources"][0]["format"] == stored


def test_the_tabular_codes_are_those_xloader_loads_by_default():
    from ckanext.communes.vocabularies import format_code, get_vocabulary

    vocabulary = get_vocabulary("file-type")
    for eu_code in ("CSV", "TSV", "XLS", "XLSX", "ODS"):
        assert format_code(vocabulary.lookup(eu_code)).lower() in XLOADER_DEFAULT_FORMATS, eu_code


def test_every_stored_code_designates_its_own_eu_term():
    from ckanext.communes.vocabularies import format_code, get_vocabulary, resolve_file_type

    vocabulary = get_vocabulary("file-type")
    codes = [format_code(term) for term in vocabulary.terms]
    assert len(set(code.lower() for code in codes)) == len(codes)  # one code, one term (case-insensitive)
    for term in vocabulary.terms:
        assert resolve_file_type(format_code(term)) == term
        assert " " not in format_code(term)  # fq=res_format:CODE needs no quotes


PASSWORD = "correct-horse-battery-staple-42"


def _form_token(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _log_in(app) -> None:
    """A sysadmin logged in through the login form (CKAN 2.12 ignores REMOTE_USER)."""
    user = factories.Sysadmin(password=PASSWORD)
    app.post("/user/login", data={"login": user["name"], "password": PASSWORD,
                                  "_csrf_token": _form_token(app.get("/user/login").body)})


def test_an_unknown_format_is_refused_in_french_naming_the_field_in_the_form(app, sysadmin, bron):
    dataset = _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.csv"}])
    _log_in(app)
    form = app.get(f"/dataset/{dataset['id']}/resource/new").body
    response = app.post(f"/dataset/{dataset['id']}/resource/new", data={
        "id": "", "url": "https://data.ville-bron.fr/x", "name": "X", "format": "Tableur maison",
        "save": "go-metadata", "_ckan_phase": "", "_csrf_token": _form_token(form)})
    html = response.body
    assert "Format de fichier inconnu : Tableur maison" in html
    assert "Format :" in html or "Format:" in html  # the error summary names the field
    assert len(helpers.call_action("package_show", id=dataset["id"])["resources"]) == 1


def test_the_resource_form_offers_and_keeps_the_codes(app, sysadmin, bron):
    dataset = _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.geojson"}])
    resource = dataset["resources"][0]
    _log_in(app)
    new_form = app.get(f"/dataset/{dataset['id']}/resource/new").body
    assert 'value="CSV"' in new_form and 'value="GeoJSON"' in new_form and 'value="WFS"' in new_form
    assert f'value="{CSV}"' not in new_form
    edit_form = app.get(f"/dataset/{dataset['id']}/resource/{resource['id']}/edit").body
    assert re.search(r'<option value="GeoJSON"\s+selected', edit_form), "the stored code is not the one selected"


def test_ckans_format_autocomplete_answers_codes_not_uris(app, sysadmin, bron):
    """/api/2/util/resource/format_autocomplete (CKAN's own format box, API clients) lists the stored values."""
    _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.csv"}])
    answer = app.get("/api/2/util/resource/format_autocomplete", query_string={"incomplete": "cs"}).json
    assert [r["Format"] for r in answer["ResultSet"]["Result"]] == ["csv"]
    europa = app.get("/api/2/util/resource/format_autocomplete", query_string={"incomplete": "europa"}).json
    assert europa["ResultSet"]["Result"] == []


def test_the_resource_page_shows_the_code_linked_to_the_eu_uri(app, sysadmin, bron):
    dataset = _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.geojson"}])
    html = app.get(f"/dataset/arbres/resource/{dataset['resources'][0]['id']}").body
    assert f'<a href="{FILE_TYPE}/GEOJSON">GeoJSON</a>' in html


def test_the_dcat_output_writes_the_eu_uri_of_the_stored_code(app, sysadmin, bron):
    dataset = _create(sysadmin, bron, "arbres", [
        {"url": "https://data.ville-bron.fr/arbres", "format": "CSV"},
        {"url": "https://geo.ville-bron.fr/ows", "format": "WFS"},
    ])
    assert [r["format"] for r in dataset["resources"]] == ["CSV", "WFS"]
    graph = rdflib.Graph().parse(data=app.get("/dataset/arbres.ttl").body, format="turtle")
    formats = {str(o) for o in graph.objects(None, rdflib.DCTERMS["format"])}
    assert formats == {f"{FILE_TYPE}/CSV", f"{FILE_TYPE}/WFS_SRVC"}


@pytest.fixture
def catalogue(sysadmin, bron) -> dict[str, Any]:
    _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.csv"}])
    _create(sysadmin, bron, "budget", [{"url": "https://data.ville-bron.fr/budget.xlsx"},
                                       {"url": "https://data.ville-bron.fr/budget.csv"}])
    _create(sysadmin, bron, "pistes", [{"url": "https://data.ville-bron.fr/pistes.geojson"}])
    return {}


def test_package_search_fq_res_format_csv_finds_the_csv_datasets(app, catalogue):
    result = app.get("/api/3/action/package_search", query_string={"fq": "res_format:CSV"}).json["result"]
    assert {d["name"] for d in result["results"]} == {"arbres", "budget"}
    geojson = app.get("/api/3/action/package_search", query_string={"fq": "res_format:GeoJSON"}).json["result"]
    assert {d["name"] for d in geojson["results"]} == {"pistes"}
    facets = app.get("/api/3/action/package_search",
                     query_string={"facet.field": '["res_format"]'}).json["result"]["search_facets"]
    assert {i["name"]: i["count"] for i in facets["res_format"]["items"]} == {"CSV": 2, "XLSX": 1, "GeoJSON": 1}


def test_the_search_page_res_format_csv_finds_the_csv_datasets(app, catalogue):
    html = app.get("/dataset/", query_string={"res_format": "CSV"}).body
    assert "/dataset/arbres" in html and "/dataset/budget" in html
    assert "/dataset/pistes" not in html
    # The format facet keeps readable labels, never a URI.
    page = app.get("/dataset/").body
    assert ">GeoJSON<" in page or "GeoJSON</span>" in page
    assert f"{FILE_TYPE}/CSV" not in page


def test_a_filter_without_its_facet_reads_its_french_heading_and_label_in_its_pill(app, catalogue):
    """CKAN's organization and res_format facets are replaced by ours; a link or a bookmark still carrying
    them once headed its pill « None: bron »."""
    from html import unescape

    html = unescape(app.get("/dataset/", query_string={"organization": "bron", "res_format": "CSV"}).body)
    pills = re.search(r'<p class="filter-list">(.*?)</p>', html, re.S)
    assert pills, "no applied filters shown"
    text = " ".join(re.sub(r"<[^>]+>", " ", pills.group(1)).split())
    assert "None" not in text, text
    assert "Organisation: Commune de Bron" in text and "Format: CSV" in text, text


@pytest.mark.parametrize("written, stored", [
    (CSV, "CSV"),  # DCAT: dct:format <EU URI>
    ("CSV", "CSV"), ("text/csv", "CSV"),  # DCAT: a literal (label or media type), a CKAN portal's format
    ("geojson", "GeoJSON"), ("GeoJSON", "GeoJSON"),  # udata, Opendatasoft exports, CKAN
    ("WFS_SRVC", "WFS"), ("OGC:WFS", "WFS"), ("Web Feature Service", "WFS"),  # CSW protocol codes, CKAN names
    ("pdf", "PDF"), ("shp", "SHP"), ("Esri Shapefile", "SHP"),
])
def test_a_harvested_format_in_any_spelling_is_stored_as_the_short_code(written, stored):
    from ckanext.communes.harvesters.mapping import map_to_schema

    mapped = map_to_schema({"title": "Arbres", "resources": [{"url": "https://x.fr/a", "format": written}]})
    assert mapped.dataset["resources"][0]["format"] == stored
    assert not mapped.unmapped


def test_a_harvested_format_outside_the_eu_list_is_set_aside_as_before():
    from ckanext.communes.harvesters.mapping import map_to_schema

    mapped = map_to_schema({"title": "Arbres", "resources": [{"url": "https://x.fr/a", "format": "Tableur maison"}]})
    assert "format" not in mapped.dataset["resources"][0]  # the schema guesses it from the URL
    assert mapped.unmapped == {"resources.format": ["Tableur maison"]}


# --- the migration of the URIs stored before -----------------------------------------------------------------

def _store_as_before(resource_id: str, value: str) -> None:
    """What the portal stored before issue #23: the EU URI in ``format`` (written behind the validators' back)."""
    model.Session.execute(model.resource_table.update().where(model.resource_table.c.id == resource_id)
                          .values(format=value))
    model.Session.commit()


@pytest.fixture
def old_portal(sysadmin, bron) -> dict[str, dict[str, Any]]:
    """Datasets whose formats are stored as today's code stored them (EU URIs), indexed so."""
    from ckan.lib import search

    datasets = {
        "arbres": _create(sysadmin, bron, "arbres", [{"url": "https://data.ville-bron.fr/arbres.csv"},
                                                     {"url": "https://data.ville-bron.fr/notice.pdf"}],
                          conforms_to=["https://schema.data.gouv.fr/scdl/equipements/"]),
        "budget": _create(sysadmin, bron, "budget", [{"url": "https://data.ville-bron.fr/budget.csv"}]),
        "voirie": _create(sysadmin, bron, "voirie", [{"url": "https://geo.ville-bron.fr/ows?service=WFS"}]),
    }
    olds = {"arbres": [f"{FILE_TYPE}/CSV", f"{FILE_TYPE}/PDF"], "budget": [f"{FILE_TYPE}/CSV"],
            "voirie": [f"{FILE_TYPE}/WFS_SRVC"]}
    for name, dataset in datasets.items():
        for resource, value in zip(dataset["resources"], olds[name], strict=True):
            _store_as_before(resource["id"], value)
        search.rebuild(dataset["id"])
    return {name: helpers.call_action("package_show", id=d["id"]) for name, d in datasets.items()}


def _formats(name: str) -> list[str]:
    # package_show answers from the index while metadata_modified is unchanged: what users see.
    return [r["format"] for r in helpers.call_action("package_show", id=name)["resources"]]


def test_the_dry_run_reports_each_format_and_writes_nothing(cli, old_portal):
    from ckan.cli.cli import ckan

    result = cli.invoke(ckan, ["communes", "formats", "migrate"])
    assert result.exit_code == 0, result.output
    assert f"{FILE_TYPE}/CSV -> CSV: 2" in result.output
    assert f"{FILE_TYPE}/PDF -> PDF: 1" in result.output
    assert f"{FILE_TYPE}/WFS_SRVC -> WFS: 1" in result.output
    assert "dry run" in result.output
    model.Session.expire_all()
    assert _formats("arbres") == [f"{FILE_TYPE}/CSV", f"{FILE_TYPE}/PDF"]
    assert helpers.call_action("package_search", fq="res_format:CSV")["count"] == 0


def test_apply_migrates_to_codes_reindexes_and_a_second_run_changes_nothing(cli, old_portal):
    from ckan.cli.cli import ckan

    assert helpers.call_action("package_search", fq="res_format:CSV")["count"] == 0  # the symptom
    activities = {n: len(helpers.call_action("package_activity_list", id=d["id"])) for n, d in old_portal.items()}
    done = cli.invoke(ckan, ["communes", "formats", "migrate", "--apply"])
    assert done.exit_code == 0, done.output
    assert "4 resource(s) in 3 dataset(s) migrated" in done.output
    model.Session.expire_all()
    assert _formats("arbres") == ["CSV", "PDF"] and _formats("budget") == ["CSV"] and _formats("voirie") == ["WFS"]
    assert {d["name"] for d in helpers.call_action("package_search", fq="res_format:CSV")["results"]} == {
        "arbres", "budget"}
    assert helpers.call_action("package_search", fq="res_format:WFS")["count"] == 1
    for name, before in old_portal.items():
        after = helpers.call_action("package_show", id=name)
        assert after["metadata_modified"] == before["metadata_modified"], name  # a technical migration
        assert [r["metadata_modified"] for r in after["resources"]] == [
            r["metadata_modified"] for r in before["resources"]], name
        assert len(helpers.call_action("package_activity_list", id=after["id"])) == activities[name], name

    again = cli.invoke(ckan, ["communes", "formats", "migrate", "--apply"])
    assert again.exit_code == 0, again.output
    assert "0 resource(s) in 0 dataset(s) migrated" in again.output


def test_the_migration_keeps_the_quality_score(cli, old_portal):
    from ckan.cli.cli import ckan

    from ckanext.communes.quality import score

    before = {name: score.quality_of(d) for name, d in old_portal.items()}
    indexed_before = {d["name"]: d["quality"]["score"]
                      for d in helpers.call_action("package_search", q="*:*")["results"]}
    assert cli.invoke(ckan, ["communes", "formats", "migrate", "--apply"]).exit_code == 0
    model.Session.expire_all()
    for name in old_portal:
        after = score.quality_of(helpers.call_action("package_show", id=name))
        assert (after["score"], after["met"]) == (before[name]["score"], before[name]["met"]), name
    indexed_after = {d["name"]: d["quality"]["score"]
                     for d in helpers.call_action("package_search", q="*:*")["results"]}
    assert indexed_after == indexed_before
    assert "open_format" in before["arbres"]["met"]


def test_a_value_the_migration_cannot_map_is_reported_and_left(cli, old_portal):
    from ckan.cli.cli import ckan
    from ckan.lib import search

    _store_as_before(old_portal["budget"]["resources"][0]["id"], "Tableur maison")
    search.rebuild(old_portal["budget"]["id"])
    result = cli.invoke(ckan, ["communes", "formats", "migrate", "--apply"])
    assert result.exit_code == 0, result.output
    assert "Tableur maison: 1 (unknown, left as it is)" in result.output
    model.Session.expire_all()
    assert _formats("budget") == ["Tableur maison"]
    assert _formats("arbres") == ["CSV", "PDF"]
