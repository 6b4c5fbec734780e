"""The French catalogue is complete and compiled: every msgid of the code has a translation."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest
from babel.messages import mofile, pofile

REPO = pathlib.Path(__file__).resolve().parents[3]
PO = REPO / "ckanext" / "communes" / "i18n" / "fr" / "LC_MESSAGES" / "ckanext-communes.po"


def test_every_message_of_the_code_has_a_french_translation():
    result = subprocess.run(
        [sys.executable, str(REPO / "dev" / "i18n_build.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_compiled_catalogue_matches_the_po_file():
    def hashable(value):  # plural ids and strings come as lists or tuples
        return value if isinstance(value, str) else tuple(value)

    with PO.open("rb") as f:
        po = {hashable(m.id): hashable(m.string) for m in pofile.read_po(f) if m.id}
    with PO.with_suffix(".mo").open("rb") as f:
        mo = {hashable(m.id): hashable(m.string) for m in mofile.read_mo(f) if m.id}
    assert po and po == mo


def test_the_communes_page_is_served_in_french_by_default(app):
    body = app.get("/communes").body
    assert "Statut de partenaire" in body
    assert "Obligation légale" in body
    assert "Partner status" not in body


def test_ckanext_harvest_pages_we_do_not_override_are_in_french(app):
    # ckanext-harvest ships no French: ours carries it (dev/i18n/third-party/ckanext-harvest.fr.po).
    body = app.get("/harvest").body
    assert "Rechercher des sources de moissonnage" in body
    assert "Search harvest sources" not in body


def test_every_msgid_of_ckanext_harvest_is_translated_in_our_catalogue():
    # Extracted from the installed ckanext-harvest itself (its .pot lags behind its templates).
    from babel.messages.extract import extract_from_dir

    import ckanext.harvest

    def key(value):
        return value if isinstance(value, str) else value[0]

    methods = [("**/tests/**", "ignore"), ("**.py", "python"),
               ("**/templates/**.html", "ckan.lib.extract:extract_ckan")]
    harvest_ids = {key(message) for _f, _l, message, _c, _x in
                   extract_from_dir(pathlib.Path(ckanext.harvest.__file__).parent, methods) if message}
    with PO.open("rb") as f:
        ours = {key(m.id): m.string for m in pofile.read_po(f) if m.id}
    ckan_po = pathlib.Path(sys.modules["ckan"].__file__).parent / "i18n" / "fr" / "LC_MESSAGES" / "ckan.po"
    with ckan_po.open("rb") as f:
        ckan_fr = {key(m.id): m.string for m in pofile.read_po(f) if m.id}
    untranslated = sorted(i for i in harvest_ids if not (ours.get(i) or ckan_fr.get(i)))
    assert untranslated == []


def test_the_action_apis_error_prefixes_are_in_french(app):
    # CKAN's French catalogue leaves them empty: ours carries them (dev/i18n/third-party/ckan-core.fr.po).
    answer = app.get("/api/3/action/communes_bilan_snapshot_show?id=nothing-here", status=404).json
    assert answer["error"]["message"].startswith("Introuvable : ")
    assert "Not found" not in answer["error"]["message"]


def test_our_plural_messages_have_both_french_forms(app):
    """ngettext in our code: the catalogue carries singular and plural, and French takes the singular for
    0 and 1 (« dont 1 moissonné », « dont 2 moissonnés »)."""
    from ckanext.communes.translation import ngettext

    with PO.open("rb") as f:
        plurals = [m for m in pofile.read_po(f) if m.pluralizable and m.locations
                   and not m.locations[0][0].startswith("dev/")]
    assert plurals and all(len(m.string) == 2 and all(m.string) for m in plurals)
    with app.flask_app.test_request_context("/?lang=fr"):
        forms = [ngettext("of which {count} harvested", "of which {count} harvested", n).format(count=n)
                 for n in (0, 1, 2)]
    assert forms == ["dont 0 moissonné", "dont 1 moissonné", "dont 2 moissonnés"]


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_harvest_source_search_speaks_french_down_to_its_facets(app):
    """ckanext-harvest's /harvest: the result count (CKAN builds it from the type name), the facet titles
    and the facet values (raw WEEKLY and communes_dcat otherwise)."""
    from ckan.tests import factories, helpers

    sysadmin = factories.Sysadmin()
    organisation = factories.Organization()
    helpers.call_action("harvest_source_create", context={"user": sysadmin["name"]}, name="catalogue-fr",
                        title="Catalogue", url="http://example.org/catalog.ttl", source_type="communes_dcat",
                        owner_org=organisation["id"], frequency="WEEKLY")
    token = factories.APIToken(user=sysadmin["name"])["token"]
    body = app.get("/harvest", headers={"Authorization": token}).body
    facets = body[body.find('<aside class="secondary'):]
    labels = re.findall(r'<span class="item-label">([^<]*)</span>', facets)
    assert "1 source de moissonnage trouvée" in body
    assert "Fréquence" in facets
    assert sorted(labels) == ["Catalogue DCAT (DCAT-AP)", "Hebdomadaire"]
    empty = app.get("/harvest?q=introuvable", headers={"Authorization": token}).body
    assert "Aucune source de moissonnage trouvée pour « introuvable »" in empty


def test_every_message_ckans_own_french_leaves_empty_is_translated_in_our_catalogue():
    """CKAN 2.12's French catalogue leaves hundreds of messages empty (the header's search box, the
    accessibility labels, the login form): ours carries them (dev/i18n/third-party/ckan-core.fr.po)."""
    def key(value):
        return value if isinstance(value, str) else value[0]

    def translated(string):
        return bool(string) and (isinstance(string, str) or all(string))

    ckan_po = pathlib.Path(sys.modules["ckan"].__file__).parent / "i18n" / "fr" / "LC_MESSAGES" / "ckan.po"
    with ckan_po.open("rb") as f:
        empty_in_ckan = {key(m.id) for m in pofile.read_po(f) if m.id and not translated(m.string)}
    with PO.open("rb") as f:
        ours = {key(m.id) for m in pofile.read_po(f) if m.id and translated(m.string)}
    assert len(empty_in_ckan) > 400  # CKAN 2.12.0's catalogue; a newer CKAN may need fewer
    assert sorted(empty_in_ckan - ours) == []


def test_the_page_header_and_login_form_are_in_french(app):
    home = app.get("/").body
    for english in ("Skip to main content", "Search Datasets...", "Toggle navigation", 'aria-label="Breadcrumb"'):
        assert english not in home, english
    assert "Aller au contenu principal" in home and "Rechercher des jeux de données..." in home
    assert "Nom d'utilisateur ou adresse e-mail" in app.get("/user/login").body.replace("&#39;", "'")


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_dataset_facet_labels_are_shown_whole(app):
    """CKAN cuts facet labels at 22 characters: « Licence Ouverte /... » told nothing."""
    from ckan.tests import factories

    organisation = factories.Organization()
    factories.Dataset(owner_org=organisation["id"], license_id="etalab-2.0", theme=["ENVI"], notes="n")
    body = app.get("/dataset/").body
    labels = re.findall(r'<span class="item-label">([^<]*)</span>', body)
    assert labels and not [label for label in labels if label.endswith("...")], labels
    assert any(label.startswith("Licence Ouverte") and len(label) > 22 for label in labels), labels


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_error_pages_are_headed_in_french(app):
    """CKAN heads every error page with werkzeug's English name of the error (« 400 Bad Request »)."""
    bad = app.get("/harvest", query_string={"page": "abc"}, status=400).body
    assert "400 Requête invalide" in bad and "Bad Request" not in bad
    missing = app.get("/page-that-does-not-exist", status=404).body
    assert "404 Page introuvable" in missing and "Not Found" not in missing
    refused = app.get("/ckan-admin", status=403).body
    assert "403 Accès refusé" in refused and "Forbidden" not in refused
    assert "Cliquez ici pour vous connecter" in refused  # the login link of the page, kept for an anonymous visitor
