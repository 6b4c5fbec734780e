"""The bilan's pages on a seeded portal (the 58 communes, datasets in communes of every phase): /communes/bilan
shows the computed figures to anyone and sorts its commune table on the server, reads and compares snapshots,
refuses junk parameters with a French 4xx, lets only the operators freeze a bilan; the downloads carry the
page's figures; a commune's dashboard is shown to its members and the operators only.

All tests share one seeded database (`seeded`, set up once per module); a test that changes data says so and
asserts only what it changes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import lxml.html
import openpyxl
import pytest
from ckan import model
from ckan.lib import search
from ckan.tests import factories, helpers

from ckanext.communes.bilan import cache, indicators, snapshots
from ckanext.communes.bilan.helpers import communes_bilan_format
from ckanext.communes.communes import seeding
from ckanext.communes.tests import portal_snapshot
from ckanext.communes.tests.shared import ANNUAL, CSV, ENVI

LONG_NOTES = ("Inventaire des équipements publics de la commune : adresse, type, horaires d'ouverture et "
              "accessibilité, tenu à jour par le service de l'urbanisme.")
SCDL_EQUIPEMENTS = "https://schema.data.gouv.fr/scdl/equipements/"
TODAY = dt.date.today()
BRON_SIGNED = TODAY - dt.timedelta(days=200)  # convention of one year: ends in 165 days

# The datasets of the seeded portal: commune -> [(name, licence)]; CC-BY-4.0 is not on the legal list (the
# form refuses it; a harvester lets it in, as here).
DATASETS: dict[str, list[tuple[str, str]]] = {
    "bron": [("bron-equipements", "etalab-2.0"), ("bron-budget", "etalab-2.0"), ("bron-arbres", "CC-BY-4.0")],
    "lyon": [("lyon-velos", "ODbL-1.0"), ("lyon-parcs", "etalab-2.0")],
    "limonest": [("limonest-salles", "etalab-2.0")],
    "caluire-et-cuire": [("caluire-ecoles", "etalab-2.0")],
    "albigny-sur-saone": [("albigny-marche", "etalab-2.0")],
}
# When each dataset appeared on the portal (metadata_created, set after creation), in days before today.
# Bron signed 200 days ago: bron-budget falls in the year before, bron-arbres in the year after, bron-equipements
# in neither.
CREATED_DAYS_AGO = {"bron-equipements": 700, "bron-budget": 400, "bron-arbres": 100, "lyon-velos": 900,
                    "lyon-parcs": 300, "limonest-salles": 500, "caluire-ecoles": 60, "albigny-marche": 1000}
PASSWORD = "Bilan-2019-communes"


@dataclass
class Portal:
    sysadmin: dict[str, Any]
    operator: dict[str, Any]  # admin of the Métropole's organisation
    bron_admin: dict[str, Any]
    bron_editor: dict[str, Any]
    lyon_admin: dict[str, Any]

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        return factories.APIToken(user=getattr(self, role)["name"])["token"]


def dataset_fields(org: str, name: str, licence: str, **overrides: Any) -> dict[str, Any]:
    fields = {
        "name": name, "title": name.replace("-", " ").capitalize(), "notes": LONG_NOTES, "owner_org": org,
        "tag_string": "equipements", "theme": [ENVI], "license_id": licence, "frequency": ANNUAL,
        "modified": TODAY.isoformat(), "temporal_coverage": [{"start": "2020-01-01"}],
        "resources": [{"url": f"https://data.example.org/{name}.csv", "name": "CSV", "format": CSV}],
    }
    fields.update(overrides)
    return fields


def seed_portal() -> Portal:
    """The 58 communes and the Métropole; Bron (phase 1) signed its convention 200 days ago, Caluire-et-Cuire
    joined later (generalisation), Écully employs 300 agents (obliged) and publishes nothing; the datasets of
    DATASETS, created over the last three years (CREATED_DAYS_AGO)."""
    seeding.seed()
    sysadmin = factories.Sysadmin()
    context = {"user": sysadmin["name"]}
    helpers.call_action("organization_patch", context=context, id="bron", convention_signed=BRON_SIGNED.isoformat())
    helpers.call_action("organization_patch", context=context, id="caluire-et-cuire", partner_status="generalisation")
    helpers.call_action("organization_patch", context=context, id="ecully", agents_fte=300)
    operator, bron_admin, bron_editor, lyon_admin = (factories.User(password=PASSWORD) for _ in range(4))
    for org, user, role in (("metropole-de-lyon", operator, "admin"), ("bron", bron_admin, "admin"),
                            ("bron", bron_editor, "editor"), ("lyon", lyon_admin, "admin")):
        helpers.call_action("organization_member_create", context=context, id=org, username=user["name"], role=role)
    for org, datasets in DATASETS.items():
        for name, licence in datasets:
            extra = {"conforms_to": [SCDL_EQUIPEMENTS]} if name == "bron-equipements" else {}
            as_harvested = {"communes_harvest": True} if licence == "CC-BY-4.0" else {}
            helpers.call_action("package_create", context={**context, **as_harvested},
                                **dataset_fields(org, name, licence, **extra))
    for name, days in CREATED_DAYS_AGO.items():
        package = model.Package.get(name)
        package.metadata_created = dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(10))
        model.Session.commit()
        search.rebuild(package.id)
    return Portal(sysadmin, operator, bron_admin, bron_editor, lyon_admin)


@pytest.fixture(scope="module")
def seeded() -> Portal:
    """The seeded portal, built once per module (a database reset and 58 organisations cost seconds)."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        built = portal_snapshot.restored("bilan_seeded", seed_portal)
        cache.bump()  # a bilan cached by an earlier module (same Redis) must not answer
        return built


# ------------------------------------------------------------------------------------------------ page helpers

def _get(app, url: str, token: str | None = None, status: int = 200):
    headers = {"Authorization": token} if token else {}
    return app.get(url, headers=headers, status=status)


def _page(app, url: str, token: str | None = None) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(_get(app, url, token).body)


def _text(element) -> str:
    """The text with runs of ASCII blanks made one (the narrow no-break spaces of French figures are kept)."""
    return re.sub(r"[ \t\r\n]+", " ", " ".join(element.itertext())).strip() if element is not None else ""


def _one(tree, xpath: str):
    found = tree.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} found"
    return found[0]


def _cell(tree, insee: str, indicator: str) -> str:
    return _text(_one(tree, f'//table[contains(@class, "bilan-communes-table")]//tr[@data-insee="{insee}"]'
                            f'/td[@data-indicator="{indicator}"]'))


def _group_cell(tree, indicator: str, group: str) -> str:
    return _text(_one(tree, f'//table[contains(@class, "bilan-groups-table")]//tr[@data-indicator="{indicator}"]'
                            f'/td[@data-group="{group}"]'))


def _commune_order(tree) -> list[str]:
    return tree.xpath('//table[contains(@class, "bilan-communes-table")]//tbody/tr/@data-insee')


def _headline(tree, key: str) -> str:
    return _text(_one(tree, f'//*[@data-figure="{key}"]//*[@class="bilan-figure-value"]'))


def _shown(app, value: Any, unit: str) -> str:
    """A figure as the page writes it in French (the formatter translates within a request)."""
    with app.flask_app.test_request_context("/"):
        return communes_bilan_format(value, unit)


FRENCH_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def _month_key(label: str) -> str:
    """'févr. 2024' (a month of the chart, as French readers write it) -> '2024-02'."""
    name, year = label.rsplit(" ", 1)
    return f"{year}-{FRENCH_MONTHS.index(name) + 1:02d}"


def _snapshot_ids() -> list[str]:
    return [item["id"] for item in snapshots.list_snapshots()]


def _csrf(app) -> str:
    """A CSRF token of the test client's session (the login form carries one)."""
    found = re.search(r'name="_csrf_token" value="([^"]+)"', _get(app, "/user/login").body)
    assert found, "no CSRF token on the login page"
    return found.group(1)


def _freeze(app, label: str, token: str | None, status: int):
    headers = {"Authorization": token} if token else {}
    return app.post("/communes/bilan/snapshots", data={"_csrf_token": _csrf(app), "label": label},
                    headers=headers, status=status, follow_redirects=False)


# ------------------------------------------------------------------------------------------------ the page

def test_bilan_page_shows_anonymous_the_figures_computed_from_the_portal(app, seeded):
    page = _page(app, "/communes/bilan")
    assert "Bilan du programme d'ouverture des données des communes" in _text(_one(page, "//h1"))
    communes, phases = indicators.compute("commune"), indicators.compute("phase")
    whole = next(row for row in phases["rows"] if row["key"] == "all_communes")
    # 8 datasets in 5 communes (hand count of DATASETS), 7 of them under a licence of the legal list.
    assert whole["values"]["datasets"] == 8
    assert _headline(page, "datasets") == "8"
    assert whole["values"]["licence_compliant_share"] == pytest.approx(7 / 8)
    assert _headline(page, "licence_compliant_share") == "87,5\u202f%"
    assert _headline(page, "communes_publishing") == "5"
    # Every commune of the Métropole has its row; Bron's figures are the computation's.
    assert len(_commune_order(page)) == len([r for r in communes["rows"] if r["kind"] == "commune"]) == 58
    bron = next(row for row in communes["rows"] if row["key"] == "69029")
    assert bron["values"]["datasets"] == 3 and _cell(page, "69029", "datasets") == "3"
    assert _cell(page, "69029", "licence_compliant_share") == "66,7\u202f%"
    for indicator in communes["indicators"]:
        if indicator["key"] == "mqa_points":  # with its rating or why it is empty: test_bilan_page_shows_the_mqa…
            continue
        assert _cell(page, "69029", indicator["key"]) == _shown(
            app, bron["values"][indicator["key"]], indicator["unit"]), indicator["key"]
    # The groups side by side: phase 1 = Bron + Lyon, phase 2 = Limonest, generalisation = Caluire-et-Cuire.
    assert [_group_cell(page, "datasets", g) for g in ("phase1", "phase2", "generalisation", "non_partner",
                                                      "all_communes")] == ["5", "1", "1", "1", "8"]
    assert _group_cell(page, "communes", "phase1") == "7" and _group_cell(page, "communes", "all_communes") == "58"
    # Around Bron's convention (the only one signed): one dataset the year before, one the year after.
    assert [_group_cell(page, key, "phase1") for key in ("datasets_before", "datasets_after")] == ["1", "1"]
    assert _group_cell(page, "datasets_before", "phase2") == "—"  # no convention signed in phase 2


def test_obliged_commune_with_nothing_published_is_flagged_and_others_are_not(app, seeded):
    page = _page(app, "/communes/bilan")
    ecully = _one(page, '//tr[@data-insee="69081"]')
    assert "bilan-obliged-empty" in ecully.get("class")
    assert "Obligée, rien de publié" in _text(ecully)
    for insee in ("69029", "69071"):  # Bron publishes; Curis (1,186 inhabitants) is not obliged
        assert "bilan-obliged-empty" not in _one(page, f'//tr[@data-insee="{insee}"]').get("class")


def test_charts_carry_their_numbers_in_a_table_and_a_text_alternative(app, seeded):
    page = _page(app, "/communes/bilan")
    figures = page.xpath('//figure[contains(@class, "bilan-chart")]')
    assert [f.get("data-chart-key") for f in figures] == [
        "datasets_over_time", "quality_histogram", "licence_compliance", "scdl_coverage", "mqa_by_group",
        "mqa_by_commune"]
    for figure in figures:
        if figure.get("data-chart-key").startswith("mqa_"):  # nothing checked yet in this portal: no data
            assert _text(_one(figure, './/*[contains(@class, "bilan-chart-empty")]'))
            continue
        canvas = _one(figure, ".//canvas")
        assert canvas.get("role") == "img" and canvas.get("aria-label")
        assert _text(_one(figure, ".//figcaption"))
        spec = json.loads(_one(figure, './/script[@type="application/json"]').text)
        rows = figure.xpath('.//table/tbody/tr')
        assert len(rows) == len(spec["labels"])
    # Licence compliance: phase 1 has 4 of its 5 datasets under a legal-list licence.
    # Licence compliance, one bar per group: phase 1 has 4 of its 5 datasets under a legal-list licence,
    # the whole Métropole 7 of 8.
    licence = _one(page, '//table[@data-chart-table="licence_compliance"]')
    cells = [_text(row.xpath("./td")[0]) for row in licence.xpath(".//tbody/tr")]
    assert cells == ["80\u202f%", "100\u202f%", "100\u202f%", "100\u202f%", "87,5\u202f%"]
    # Datasets over time: from zero the month before the first dataset (Albigny's, 1,000 days ago) to this
    # month, when the cumulative totals are the phases' datasets; 600 days ago phase 1 had Lyon's vélos and Bron's
    # équipements, the non-partners Albigny's marché.
    timeline = json.loads(_one(page, '//script[@id="bilan-chart-datasets_over_time-data"]').text)
    first = TODAY - dt.timedelta(days=1000)
    before_first = (first.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    months = [_month_key(label) for label in timeline["labels"]]
    now = dt.date.today()  # the page's "this month", which a run across midnight may have moved past TODAY
    assert months[0] == before_first and months[-1] == now.strftime("%Y-%m")
    assert months == sorted(set(months))  # every month once, none missing in between:
    assert len(months) == (now.year - first.year) * 12 + now.month - first.month + 2
    series = {s["key"]: s["data"] for s in timeline["series"]}
    assert {key: data[0] for key, data in series.items()} == {"phase1": 0, "phase2": 0, "generalisation": 0,
                                                                "non_partner": 0}
    totals = {key: data[-1] for key, data in series.items()}
    assert totals == {"phase1": 5, "phase2": 1, "generalisation": 1, "non_partner": 1}
    month_600_days_ago = months.index((TODAY - dt.timedelta(days=600)).strftime("%Y-%m"))
    assert {key: data[month_600_days_ago] for key, data in series.items()} == {
        "phase1": 2, "phase2": 0, "generalisation": 0, "non_partner": 1}
    # Quality: every dataset is counted once in the histogram of its phase.
    histogram = json.loads(_one(page, '//script[@id="bilan-chart-quality_histogram-data"]').text)
    assert {s["key"]: sum(s["data"]) for s in histogram["series"]} == totals


def test_commune_table_sorts_on_the_server_by_any_indicator(app, seeded):
    by_datasets = _commune_order(_page(app, "/communes/bilan?sort=datasets&dir=desc"))
    # Bron 3, Lyon 2, then the communes with one dataset by name, then the others by name.
    assert by_datasets[:5] == ["69029", "69123", "69003", "69034", "69116"]
    assert _commune_order(_page(app, "/communes/bilan?sort=datasets&dir=asc"))[-2:] == ["69123", "69029"]
    by_name = _commune_order(_page(app, "/communes/bilan?sort=name&dir=asc"))
    assert by_name[:2] == ["69003", "69029"]  # Albigny-sur-Saône, Bron
    assert by_name.index("69081") < by_name.index("69085")  # Écully before Fleurieu (accents ignored)
    assert _commune_order(_page(app, "/communes/bilan?sort=name&dir=desc")) == list(reversed(by_name))
    # A commune without datasets has no licence share: last in both directions.
    for direction in ("asc", "desc"):
        order = _commune_order(_page(app, f"/communes/bilan?sort=licence_compliant_share&dir={direction}"))
        assert set(order[:5]) == {"69029", "69123", "69003", "69034", "69116"}, direction
    descending = _commune_order(_page(app, "/communes/bilan?sort=licence_compliant_share&dir=desc"))
    assert descending[4] == "69029"  # Bron's 66.7 % after the four communes at 100 %
    header = _one(_page(app, "/communes/bilan?sort=datasets&dir=desc"), '//th[@data-sort-key="datasets"]')
    assert header.get("aria-sort") == "descending"
    assert "sort=datasets" in _one(header, ".//a").get("href") and "dir=asc" in _one(header, ".//a").get("href")


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/communes/bilan?sort=population", 400, "Colonne de tri inconnue"),
    ("/communes/bilan?sort=datasets&dir=up", 400, "Sens de tri inconnu"),
    ("/communes/bilan?snapshot=00000000-0000-0000-0000-000000000000", 404, "Bilan figé inconnu"),
    ("/communes/bilan?snapshot=..%2F..%2Fetc%2Fpasswd", 404, "Bilan figé inconnu"),
    ("/communes/bilan?compare=inconnu", 404, "Bilan figé inconnu"),
    ("/communes/bilan?snapshot=" + "9" * 5000, 400, "trop long"),
    ("/communes/bilan?sort=" + "x" * 100000, 400, "trop long"),
    ("/communes/bilan/export.pdf", 404, "Format de téléchargement inconnu"),
    ("/communes/bilan/export.csv?group_by=region", 400, "group_by"),
    ("/communes/bilan/export.json?snapshot=inconnu", 404, "Bilan figé inconnu"),
])
def test_junk_parameters_get_a_french_4xx_never_a_server_error(app, seeded, url, status, words):
    response = _get(app, url, status=status)
    assert words in response.body


def test_comparing_today_with_today_shows_no_comparison(app, seeded):
    page = _page(app, "/communes/bilan?compare=today")
    assert page.xpath('//*[@id="bilan-comparison"]') == []
    assert _headline(page, "datasets") == "8"


def test_a_junk_parameter_is_written_back_escaped(app, seeded):
    body = _get(app, "/communes/bilan?sort=%3Cscript%3Ealert(1)%3C/script%3E", status=400).body
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


# ------------------------------------------------------------------------------------------------ snapshots

@pytest.mark.parametrize("role", ["anonymous", "bron_editor", "bron_admin", "lyon_admin"])
def test_freezing_a_bilan_is_refused_to_anyone_but_the_operators(app, seeded, role):
    before = _snapshot_ids()
    response = _freeze(app, f"Bilan de {role}", seeded.token(role), status=403)
    assert "Seuls les opérateurs du programme" in response.body
    assert _snapshot_ids() == before
    # The form is not even shown to them.
    page = _page(app, "/communes/bilan", seeded.token(role))
    assert page.xpath('//*[@id="bilan-freeze"]') == []


@pytest.mark.parametrize(("label", "words"), [("   ", "obligatoire"), ("x" * 5000, "200 caractères")])
def test_freezing_a_bilan_with_a_bad_label_shows_the_french_error_in_the_form(app, seeded, label, words):
    before = _snapshot_ids()
    response = _freeze(app, label, seeded.token("operator"), status=400)
    page = lxml.html.fromstring(response.body)
    error = _text(_one(page, '//*[@id="bilan-snapshot-label-error"]'))
    assert words in error
    assert _one(page, '//input[@id="bilan-snapshot-label"]').get("aria-invalid") == "true"
    assert _snapshot_ids() == before


@pytest.fixture
def bron_cimetieres_purged_after(seeded):
    """The dataset the next test adds to Bron is purged afterwards (its snapshots stay)."""
    yield "bron-cimetieres"
    if model.Package.get("bron-cimetieres") is not None:
        helpers.call_action("dataset_purge", context={"user": seeded.sysadmin["name"]}, id="bron-cimetieres")


def test_operator_freezes_a_bilan_which_keeps_its_figures_and_compares_with_today(app, seeded,
                                                                                 bron_cimetieres_purged_after):
    """Adds a dataset to Bron after the first snapshot."""
    operator = seeded.token("operator")
    assert _one(_page(app, "/communes/bilan", operator), '//*[@id="bilan-freeze"]//form').get("method") == "post"
    response = _freeze(app, "Bilan phase 1", operator, status=302)
    first = next(s["id"] for s in snapshots.list_snapshots() if s["label"] == "Bilan phase 1")
    assert response.headers["Location"].endswith(f"/communes/bilan?snapshot={first}")
    followed = _page(app, f"/communes/bilan?snapshot={first}", operator)
    assert "Le bilan « Bilan phase 1 » est figé" in _text(followed)
    bron_before = _cell(followed, "69029", "datasets")

    helpers.call_action("package_create", context={"user": seeded.sysadmin["name"]},
                        **dataset_fields("bron", bron_cimetieres_purged_after, "etalab-2.0"))
    frozen = _page(app, f"/communes/bilan?snapshot={first}")
    assert _cell(frozen, "69029", "datasets") == bron_before
    assert "Bilan phase 1 (figé le" in _text(_one(frozen, '//*[contains(@class, "bilan-edition")]'))
    today = _page(app, "/communes/bilan")
    assert int(_cell(today, "69029", "datasets")) == int(bron_before) + 1

    compared = _page(app, f"/communes/bilan?compare={first}")
    line = _one(compared, '//table[@data-part="communes"]//tr[@data-row="69029"][@data-indicator="datasets"]')
    assert [_text(td) for td in line.xpath("./td[@data-side]")] == [bron_before, str(int(bron_before) + 1), "+1"]
    group_line = _one(compared, '//table[@data-part="groups"]//tr[@data-row="phase1"][@data-indicator="datasets"]')
    assert _text(_one(group_line, './td[@data-side="delta"]')) == "+1"
    # Only what changed is listed: Lyon did not change.
    assert compared.xpath('//table[@data-part="communes"]//tr[@data-row="69123"]') == []

    # Two snapshots compared, in either order: from the older to the newer.
    time.sleep(1.1)  # snapshots are dated to the second: the second one must be the newer
    _freeze(app, "Bilan phase 2", operator, status=302)
    second = next(s["id"] for s in snapshots.list_snapshots() if s["label"] == "Bilan phase 2")
    for query in (f"snapshot={second}&compare={first}", f"snapshot={first}&compare={second}"):
        both = _page(app, f"/communes/bilan?{query}")
        sides = [_text(s) for s in both.xpath('//*[contains(@class, "bilan-comparison-sides")]/strong')]
        assert sides[0].startswith("Bilan phase 1") and sides[1].startswith("Bilan phase 2"), query
        line = _one(both, '//table[@data-part="communes"]//tr[@data-row="69029"][@data-indicator="datasets"]')
        assert _text(_one(line, './td[@data-side="delta"]')) == "+1", query
    # The downloads of a snapshot carry its figures, under its label.
    frozen_json = _get(app, f"/communes/bilan/export.json?snapshot={first}")
    assert frozen_json.headers["Content-Disposition"] == 'attachment; filename="bilan-communes-bilan-phase-1.json"'
    bron_frozen = next(row for row in json.loads(frozen_json.body)["rows"] if row["key"] == "69029")
    assert str(bron_frozen["values"]["datasets"]) == bron_before
    picker = _page(app, f"/communes/bilan?snapshot={second}")
    assert _one(picker, f'//select[@id="bilan-snapshot"]/option[@value="{second}"]').get("selected") is not None


# ------------------------------------------------------------------------------------------------ downloads

def test_downloads_carry_the_figures_of_the_page_with_a_file_name(app, seeded):
    page = _page(app, "/communes/bilan")
    stamp = indicators.compute("commune")["generated_at"][:10]

    response = _get(app, "/communes/bilan/export.json")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"] == f'attachment; filename="bilan-communes-{stamp}.json"'
    exported = json.loads(response.body)
    units = {item["key"]: item["unit"] for item in exported["indicators"]}
    for row in exported["rows"]:
        for key, unit in units.items():
            if key == "mqa_points":  # the page adds its rating or why it is empty
                continue
            assert _cell(page, row["key"], key) == _shown(app, row["values"].get(key), unit), (row["key"], key)

    labels = {item["label"]: item["key"] for item in exported["indicators"]}

    # CSV for French spreadsheets: ';' between fields, decimal comma, "oui"/"non".
    csv_response = _get(app, "/communes/bilan/export.csv")
    assert csv_response.headers["Content-Disposition"] == f'attachment; filename="bilan-communes-{stamp}.csv"'
    table = list(csv.reader(io.StringIO(csv_response.body.lstrip("\ufeff")), delimiter=";"))
    _assert_table_equals_page(app, page, table, labels, units)

    # XLSX: typed cells (numbers, dates).
    xlsx = app.get("/communes/bilan/export.xlsx")
    assert xlsx.headers["Content-Disposition"] == f'attachment; filename="bilan-communes-{stamp}.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).worksheets[0]
    _assert_table_equals_page(app, page, [list(row) for row in sheet.iter_rows(values_only=True)], labels, units)

    phases = json.loads(_get(app, "/communes/bilan/export.json?group_by=phase").body)
    whole = next(row for row in phases["rows"] if row["key"] == "all_communes")
    assert _shown(app, whole["values"]["datasets"], "count") == _headline(page, "datasets")


def _typed(cell: Any, unit: str) -> Any:
    """A cell of the CSV (text) or the XLSX (typed) back to the bilan's value."""
    if cell in (None, ""):
        return None
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat()
    if unit == "flag":
        return {"oui": True, "non": False}[str(cell)]
    if unit in ("share", "score"):
        return float(str(cell).replace(",", "."))
    if unit in ("count", "days"):
        return int(cell)
    return str(cell)


def _assert_table_equals_page(app, page, table: list[list[Any]], labels: dict[str, str],
                              units: dict[str, str]) -> None:
    header, lines = table[0], table[1:]
    columns = {labels[name]: i for i, name in enumerate(header) if name in labels}
    assert set(columns) == set(units), header
    assert len(lines) == 58
    for line in lines:
        insee = str(line[0])
        for key, unit in units.items():
            if key == "mqa_points":  # the page adds its rating or why it is empty
                continue
            assert _cell(page, insee, key) == _shown(app, _typed(line[columns[key]], unit), unit), (insee, key)


# ------------------------------------------------------------------------------------------------ dashboard

@pytest.mark.parametrize("role", ["bron_admin", "bron_editor", "operator", "sysadmin"])
def test_dashboard_is_shown_to_the_communes_members_and_the_operators(app, seeded, role):
    page = _page(app, "/organization/bron", seeded.token(role))
    dashboard = _one(page, '//*[@id="communes-bilan-dashboard"]')
    figures = _one(dashboard, './/table[contains(@class, "bilan-dashboard-figures")]')
    assert figures.get("data-group") == "phase1"
    communes, phases = indicators.compute("commune"), indicators.compute("phase")
    bron = next(row for row in communes["rows"] if row["key"] == "69029")
    medians = next(row for row in phases["rows"] if row["key"] == "phase1")["medians"]
    line = _one(figures, './/tr[@data-indicator="datasets"]')
    assert _text(_one(line, './td[@data-side="commune"]')) == str(bron["values"]["datasets"])
    assert _text(_one(line, './td[@data-side="median"]')) == _shown(app, medians["datasets"], "count")
    # Bron has 3 or 4 datasets, more than the median of the 7 pilots (Bron and Lyon publish, 5 do not): above.
    assert "bilan-position-above" in line.get("class")
    # Its convention: signed 200 days ago, one year long.
    end = (BRON_SIGNED.replace(year=BRON_SIGNED.year + 1))
    convention = _one(dashboard, './/*[contains(@class, "bilan-dashboard-convention")]')
    assert _one(convention, ".//dd[@data-end]").get("data-end") == end.isoformat()
    assert _text(_one(convention, './/dd[contains(@class, "bilan-days-left")]')) == str((end - dt.date.today()).days)
    # Its datasets worst first, with what they miss; the one under CC-BY-4.0 misses the licence criterion.
    ranked = dashboard.xpath('.//table[contains(@class, "bilan-dashboard-datasets")]//tr[@data-dataset]')
    scores = [int(_text(row.xpath("./td")[1])) for row in ranked]
    assert scores == sorted(scores) and len(ranked) >= 3
    arbres = _one(dashboard, './/tr[@data-dataset="bron-arbres"]')
    assert _text(_one(arbres, './/*[@data-criterion="licence"]')) == "Licence de la liste du CRPA (art. D323-2-1) (+15)"
    # The SCDL schemas it could publish are the computation's.
    missing = [item["label"] for item in bron["details"]["scdl_missing"]]
    assert [_text(li) for li in dashboard.xpath('.//ul[contains(@class, "bilan-dashboard-scdl-missing")]/li')] \
        == missing


@pytest.mark.parametrize("role", ["lyon_admin", "anonymous"])
def test_dashboard_is_absent_for_another_communes_admin_and_anonymous(app, seeded, role):
    page = _page(app, "/organization/bron", seeded.token(role))
    assert page.xpath('//*[@id="communes-bilan-dashboard"]') == []
    assert page.xpath('//*[@id="commune-profile"]')  # the public profile is still there


def test_commune_index_links_to_the_bilan(app, seeded):
    link = _one(_page(app, "/communes"), '//*[contains(@class, "communes-bilan-link")]/a')
    assert link.get("href").endswith("/communes/bilan")


# ------------------------------------------------------------------------------------------------ MQA (issue #25)

def _mqa_bilans() -> tuple[dict[str, Any], dict[str, Any]]:
    """A commune and a phase bilan as the core shapes them, with the MQA of a few rows: Bron rated Bon
    (287.53 points), Lyon Insuffisant (98), Limonest all pending, Écully without any dataset."""
    indicator = {"key": "mqa_points", "label": "MQA", "unit": "score"}

    def row(key: str, name: str, points: float | None, rating: str | None, pending: int, datasets: int,
            status: str = "phase1") -> dict[str, Any]:
        return {"key": key, "name": name, "kind": "commune", "partner_status": status, "members": [],
                "values": {"mqa_points": points}, "medians": {"mqa_points": 98.0},
                "details": {"mqa": {"rating": rating, "rating_label": "frozen label", "datasets": datasets,
                                    "pending": pending, "dimensions": {"findability": 80.0}}}}

    communes = {"indicators": [indicator], "rows": [
        row("69029", "Bron", 287.53, "good", 0, 3), row("69123", "Lyon", 98.0, "bad", 1, 1),
        row("69116", "Limonest", None, None, 1, 0, "phase2"), row("69081", "Écully", None, None, 0, 0, "none")]}
    phases = {"indicators": [indicator], "rows": [
        row("phase1", "Phase 1", 240.0, "good", 1, 4), row("phase2", "Phase 2", None, None, 1, 0),
        row("generalisation", "Généralisation", None, None, 0, 0),
        row("non_partner", "Non partenaires", None, None, 0, 0), row("all_communes", "Métropole", 240.0, "good", 2, 4)]}
    for found in phases["rows"]:
        found["details"]["per_month"] = []
    return communes, phases


def test_mqa_shows_points_out_of_405_and_the_rating_or_why_it_is_empty(app):
    from ckanext.communes.bilan import helpers as bilan_helpers

    communes, phases = _mqa_bilans()
    with app.flask_app.test_request_context("/", headers={"Accept-Language": "fr"}):
        table = {row["key"]: row["cells"][0] for row in bilan_helpers.commune_table(communes, communes["rows"])}
        groups = bilan_helpers.group_table(phases)
    # The rating is the method's label for the rating's name, not the label frozen with the figures.
    assert table["69029"]["text"] == "287,5 sur 405 — Bon" and table["69029"]["mqa_rating"] == "good"
    assert table["69123"]["text"] == "98 sur 405 — Insuffisant"
    assert table["69116"]["text"] == "en attente" and table["69116"]["mqa_rating"] == "pending"
    assert table["69081"]["text"] == "—" and table["69081"]["mqa_rating"] == "none"
    line = next(line for line in groups["lines"] if line["key"] == "mqa_points")
    assert line["cells"] == ["240 sur 405 — Bon", "en attente", "—", "—", "240 sur 405 — Bon"]


def test_mqa_charts_per_group_and_per_commune_carry_their_points(app):
    from ckanext.communes.bilan import helpers as bilan_helpers

    communes, phases = _mqa_bilans()
    with app.flask_app.test_request_context("/", headers={"Accept-Language": "fr"}):
        charts = {chart["key"]: chart for chart in bilan_helpers.charts(phases, communes)}
        empty = {chart["key"]: chart for chart in bilan_helpers.charts(_mqa_bilans()[1] | {"rows": []}, {"rows": []})}
    by_group = charts["mqa_by_group"]
    assert by_group["labels"] == ["Phase 1", "Phase 2", "Généralisation", "Non partenaires", "Métropole"]
    assert by_group["series"][0]["data"] == [240.0, None, None, None, 240.0]
    assert by_group["max"] == 405 and "MQA" in by_group["title"]
    # Per commune: the assessed communes only, best first, each bar in its group's colour.
    by_commune = charts["mqa_by_commune"]
    assert by_commune["labels"] == ["Bron", "Lyon"]
    assert by_commune["series"][0]["data"] == [287.53, 98.0]
    assert by_commune["series"][0]["colours"] == ["phase1", "phase1"]
    assert empty["mqa_by_group"]["labels"] == [] and empty["mqa_by_commune"]["labels"] == []


def test_bilan_page_shows_the_mqa_and_its_charts_and_why_cells_are_empty(app, seeded):
    """Nothing of the seeded portal was checked yet: its communes with datasets are pending."""
    page = _page(app, "/communes/bilan")
    assert _cell(page, "69029", "mqa_points") == "en attente"  # Bron: 3 datasets, none checked yet
    assert _cell(page, "69081", "mqa_points") == "—"  # Écully publishes nothing
    assert _group_cell(page, "mqa_points", "phase1") == "en attente"
    for section in ("bilan-groups", "bilan-communes"):  # under each table, what its empty cells mean
        note = _text(_one(page, f'//*[@id="{section}"]//*[contains(@class, "bilan-mqa-note")]'))
        assert "« en attente » : aucun des jeux n'a encore été vérifié" in note and "« — » : aucun jeu public" in note
    keys = [f.get("data-chart-key") for f in page.xpath('//figure[contains(@class, "bilan-chart")]')]
    assert keys[-2:] == ["mqa_by_group", "mqa_by_commune"]


def test_dashboard_shows_the_communes_mqa_and_leads_to_its_dimensions(app, seeded):
    page = _page(app, "/organization/bron", seeded.token("bron_admin"))
    line = _one(page, '//table[contains(@class, "bilan-dashboard-figures")]//tr[@data-indicator="mqa_points"]')
    assert _text(_one(line, './td[@data-side="commune"]')) == "en attente"
