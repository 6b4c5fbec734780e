"""Routing harvested datasets to the right commune (issue #8, point 2).

All tests share one seeded database (`routing_world`, built once for the module): they only read it,
except the ones that create an organisation of their own."""

from __future__ import annotations

from typing import Any

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import routing
from ckanext.communes.harvesters.routing import Route, Router, normalise_commune_name, route_dataset
from ckanext.communes.tests.communes.conftest import write_communes_csv

# Bron, Lyon (arrondissements), Oullins-Pierre-Bénite (merged 2024: former 69152 and names Oullins,
# Pierre-Bénite), Grigny-sur-Rhône (renamed 2025), Écully, Sainte-Foy-lès-Lyon (contains "Lyon"),
# Saint-Priest, and Limonest (its organisation is deleted below). Craponne (69069) is in the registry
# but deliberately not seeded: a commune with no organisation on the portal yet.
SEEDED = ("69029", "69123", "69149", "69096", "69081", "69202", "69290", "69116")
METROPOLE = "metropole-de-lyon"


@pytest.fixture(scope="module")
def routing_world(tmp_path_factory) -> dict[str, Any]:
    """A database with the Métropole and the communes of SEEDED, Limonest's organisation deleted.
    Set up once for the module (a database reset costs seconds). Returns organisation ids by name."""
    from ckanext.communes.tests.conftest import module_database

    with module_database():
        seeding.seed(path=str(write_communes_csv(tmp_path_factory.mktemp("routing") / "few.csv", SEEDED)))
        sysadmin = factories.Sysadmin()
        helpers.call_action("organization_delete", context={"user": sysadmin["name"]}, id="limonest")
        return {name: model.Group.get(name).id for name in helpers.call_action("organization_list")}


@pytest.fixture
def metropole_router(routing_world) -> Router:
    return Router(source_owner_org_id=routing_world[METROPOLE])


# Publisher values as sources write them -> (current INSEE code, organisation, rule that matched).
ROUTED = [
    ("216 900 290", "69029", "bron", "siren"),
    ("216900290", "69029", "bron", "siren"),
    ("216\u00a0900\u00a0290", "69029", "bron", "siren"),  # no-break spaces of French typography
    ("216 900 290 00017", "69029", "bron", "siren"),  # SIRET: its first 9 digits
    ("https://annuaire-entreprises.data.gouv.fr/entreprise/216900290", "69029", "bron", "siren"),
    ("69029", "69029", "bron", "insee"),
    ("69149", "69149", "oullins-pierre-benite", "insee"),  # also Oullins' own former code: current wins
    ("69152", "69149", "oullins-pierre-benite", "former_insee"),  # Pierre-Bénite, merged in 2024
    ("69385", "69123", "lyon", "arrondissement"),
    ("69381", "69123", "lyon", "arrondissement"),
    ("http://id.insee.fr/geo/commune/69029", "69029", "bron", "insee_uri"),
    ("https://id.insee.fr/geo/commune/69029", "69029", "bron", "insee_uri"),
    ("http://id.insee.fr/geo/commune/69029/", "69029", "bron", "insee_uri"),
    ("http://id.insee.fr/geo/commune/69152", "69149", "oullins-pierre-benite", "insee_uri"),
    ("http://id.insee.fr/geo/arrondissementMunicipal/69385", "69123", "lyon", "insee_uri"),
    ("http://test.ckan.net/communes/69290", "69290", "saint-priest", "insee_uri"),  # our own URI
    ("https://test.ckan.net/communes/69290/", "69290", "saint-priest", "insee_uri"),
    ("Bron", "69029", "bron", "name"),
    ("Ville de Bron", "69029", "bron", "name"),
    ("MAIRIE DE BRON", "69029", "bron", "name"),
    ("Commune d'Écully", "69081", "ecully", "name"),
    ("Commune d’Écully", "69081", "ecully", "name"),  # typographic apostrophe
    ("Ville d'Ecully", "69081", "ecully", "name"),
    ("Mairie d'Oullins", "69149", "oullins-pierre-benite", "name"),  # former name
    ("Pierre-Bénite", "69149", "oullins-pierre-benite", "name"),
    ("Grigny", "69096", "grigny-sur-rhone", "name"),  # name until 2025
    ("Sainte-Foy-lès-Lyon", "69202", "sainte-foy-les-lyon", "name"),
    ("SAINTE FOY LES LYON", "69202", "sainte-foy-les-lyon", "name"),
    ("Lyon", "69123", "lyon", "name"),
    ("Ville de Lyon", "69123", "lyon", "name"),
    ("Saint Priest", "69290", "saint-priest", "name"),
    ("  saint-priest  ", "69290", "saint-priest", "name"),
    ("Métropole de Lyon", "", METROPOLE, "name"),
    ("METROPOLE DE LYON", "", METROPOLE, "name"),
    ("200 046 977", "", METROPOLE, "siren"),
    ("https://annuaire-entreprises.data.gouv.fr/entreprise/200046977", "", METROPOLE, "siren"),
]


@pytest.mark.parametrize(("value", "insee", "org_name", "matched_by"), ROUTED)
def test_a_metropole_source_routes_each_publisher_value_to_its_commune(
    routing_world, metropole_router, value, insee, org_name, matched_by
):
    route = metropole_router.route([value])
    assert route == Route(org_id=routing_world[org_name], org_name=org_name, insee=insee,
                          matched_by=matched_by, matched_value=value.strip(), unrouted_values=())


# Values that designate no commune of the portal: partial or longer names (no fuzzy matching), an
# e-mail address or a website (not rules), codes and SIRENs outside the Métropole, malformed URIs.
UNROUTED = [
    "Sainte-Foy", "Foy-lès-Lyon", "Lyon 5e Arrondissement", "Bron Métropole", "Saint", "Ville de",
    "mairie@bron.fr", "www.bron.fr", "https://www.bron.fr/", "75056", "69999", "2169002900",
    "123 456 789", "http://id.insee.fr/geo/commune/75056", "http://id.insee.fr/geo/departement/69",
    "http://id.insee.fr/geo/commune/", "http://example.org/communes/69029", "Syndicat mixte des eaux",
]


@pytest.mark.parametrize("value", UNROUTED)
def test_a_value_that_designates_no_commune_stays_with_the_owner_and_is_reported(
    routing_world, metropole_router, value
):
    route = metropole_router.route([value])
    assert route == Route(org_id=routing_world[METROPOLE], org_name=METROPOLE, insee="",
                          matched_by="unrouted", matched_value="", unrouted_values=(value,))


def test_lyon_and_sainte_foy_les_lyon_are_not_confused(metropole_router):
    assert metropole_router.route(["Lyon"]).insee == "69123"
    assert metropole_router.route(["Sainte-Foy-lès-Lyon"]).insee == "69202"
    assert metropole_router.route(["Foy lès Lyon"]).matched_by == "unrouted"


def test_the_first_value_that_designates_a_commune_decides(routing_world, metropole_router):
    route = metropole_router.route(["Syndicat mixte", "", "Ville de Bron", "69123"])
    assert (route.org_name, route.matched_by, route.matched_value, route.unrouted_values) == (
        "bron", "name", "Ville de Bron", ())


def test_every_value_is_reported_once_and_in_order_when_none_routes(routing_world, metropole_router):
    route = metropole_router.route(["Syndicat mixte", " ", "mairie@bron.fr", "Syndicat mixte", None])
    assert route.org_id == routing_world[METROPOLE]
    assert route.unrouted_values == ("Syndicat mixte", "mairie@bron.fr")
    assert metropole_router.route([]).unrouted_values == ()


@pytest.mark.parametrize("value", ["Craponne", "69069", "216900696", "http://id.insee.fr/geo/commune/69069"])
def test_a_commune_without_organisation_on_the_portal_is_unrouted(routing_world, metropole_router, value):
    route = metropole_router.route([value])
    assert (route.org_id, route.matched_by, route.unrouted_values) == (
        routing_world[METROPOLE], "unrouted", (value,))
    # A later value that designates a commune with an organisation still routes.
    assert metropole_router.route([value, "Bron"]).org_name == "bron"


@pytest.mark.parametrize("value", ["Limonest", "69116", "216901165"])
def test_a_deleted_commune_organisation_is_not_used(routing_world, metropole_router, value):
    assert model.Group.get("limonest").state == "deleted"
    route = metropole_router.route([value])
    assert (route.org_id, route.matched_by, route.unrouted_values) == (
        routing_world[METROPOLE], "unrouted", (value,))


@pytest.mark.parametrize("values", [["Ville de Lyon", "69123"], ["Métropole de Lyon"], ["n'importe quoi"], []])
def test_a_commune_owned_source_puts_everything_in_that_commune(routing_world, values):
    route = route_dataset(values, source_owner_org_id="bron")
    assert route == Route(org_id=routing_world["bron"], org_name="bron", insee="69029",
                          matched_by="source_owner", matched_value="", unrouted_values=())
    # Also by organisation id, and whatever the routing table says.
    assert route_dataset(values, source_owner_org_id=routing_world["bron"],
                         routing_table={"Ville de Lyon": "69123"}) == route


def test_an_owner_with_only_a_commune_kind_counts_as_a_commune(routing_world):
    org = factories.Organization(kind="commune")
    route = route_dataset(["Bron"], source_owner_org_id=org["id"])
    assert (route.org_id, route.matched_by, route.insee) == (org["id"], "source_owner", "")


def test_a_source_owned_by_another_organisation_routes_too_and_keeps_what_it_cannot_route(routing_world):
    syndicate = factories.Organization()
    router = Router(source_owner_org_id=syndicate["name"])
    assert router.route(["69385"]).org_name == "lyon"
    assert router.route(["Métropole de Lyon"]).org_name == METROPOLE
    assert router.route(["Syndicat"]) == Route(org_id=syndicate["id"], org_name=syndicate["name"], insee="",
                                               matched_by="unrouted", matched_value="",
                                               unrouted_values=("Syndicat",))


def test_an_owner_that_is_not_an_active_organisation_is_refused(routing_world):
    with pytest.raises(ValueError, match="limonest"):
        Router(source_owner_org_id="limonest")
    with pytest.raises(ValueError):
        route_dataset(["Bron"], source_owner_org_id="no-such-organisation")


TABLE = {
    "Mairie annexe du 5e arrondissement": "69385",  # an arrondissement code: Lyon
    "CCAS de Bron": "bron",  # an organisation name
    "Service des espaces verts (Pierre-Bénite)": "69152",  # a former code
    "Lyon": "sainte-foy-les-lyon",  # the table comes before the rules, so it can overrule them
    "SYTRAL": "limonest",  # a deleted organisation: the rules apply, then unrouted
}


@pytest.mark.parametrize(("value", "org_name", "insee"), [
    ("MAIRIE ANNEXE DU 5E ARRONDISSEMENT", "lyon", "69123"),
    ("Ccas de bron", "bron", "69029"),
    ("Service des espaces verts – Pierre-Bénite", "oullins-pierre-benite", "69149"),
    ("Ville de Lyon", "sainte-foy-les-lyon", "69202"),  # keys compare after normalisation too
])
def test_the_routing_table_names_what_the_rules_miss(routing_world, value, org_name, insee):
    route = route_dataset(["Inconnu", value], source_owner_org_id=METROPOLE, routing_table=TABLE)
    assert route == Route(org_id=routing_world[org_name], org_name=org_name, insee=insee,
                          matched_by="table", matched_value=value, unrouted_values=())


def test_a_table_entry_to_an_inactive_organisation_falls_back_to_the_rules(routing_world):
    router = Router(source_owner_org_id=METROPOLE, routing_table=TABLE)
    assert router.route(["SYTRAL"]).unrouted_values == ("SYTRAL",)
    assert router.route(["216 900 290"]).org_name == "bron"  # values outside the table: the rules


@pytest.mark.parametrize(("value", "normalised"), [
    ("Ville de Sainte-Foy-lès-Lyon", "sainte foy les lyon"),
    ("Commune d'Écully", "ecully"),
    ("MAIRIE D’ÉCULLY", "ecully"),
    ("Mairie de  La Mulatière", "la mulatiere"),
    ("Villeurbanne", "villeurbanne"),  # "Ville" only as a word of its own
    ("Ville de", "ville de"),
    ("", ""),
])
def test_normalise_commune_name(value, normalised):
    assert normalise_commune_name(value) == normalised


def test_a_valid_routing_table_has_no_error(app, routing_world):
    with app.flask_app.test_request_context():
        assert routing.validate_routing_table(None) == []
        assert routing.validate_routing_table({}) == []
        assert routing.validate_routing_table({k: v for k, v in TABLE.items() if k != "SYTRAL"}) == []
        assert routing.validate_routing_table({"Métropole": "200046977", "Pierre-Bénite": "69152"}) == []


# A bad table -> the one French error it gets, naming the key (and the value when that is the fault).
BAD_TABLES: list[tuple[Any, str]] = [
    (["Bron"], "La table de routage doit être un objet dont les clés sont des valeurs d'éditeur et les "
               "valeurs des codes INSEE ou des noms d'organisation."),
    ({"Mairie annexe": "75056"}, "Table de routage, clé « Mairie annexe » : « 75056 » n'est ni le code INSEE "
                                 "d'une commune de la Métropole de Lyon ayant une organisation, ni le nom "
                                 "d'une organisation existante."),
    ({"Mairie annexe": "ville-de-bron"}, "Table de routage, clé « Mairie annexe » : « ville-de-bron » n'est ni "
                                         "le code INSEE d'une commune de la Métropole de Lyon ayant une "
                                         "organisation, ni le nom d'une organisation existante."),
    ({"SYTRAL": "limonest"}, "Table de routage, clé « SYTRAL » : « limonest » n'est ni le code INSEE d'une "
                             "commune de la Métropole de Lyon ayant une organisation, ni le nom d'une "
                             "organisation existante."),
    ({"Service urbanisme": "69069"}, "Table de routage, clé « Service urbanisme » : Craponne (69069) n'a pas "
                                     "encore d'organisation sur le portail."),
    ({"CCAS": ""}, "Table de routage, clé « CCAS » : la valeur doit être un code INSEE ou un nom d'organisation."),
    ({"CCAS": 69029}, "Table de routage, clé « CCAS » : la valeur doit être un code INSEE ou un nom "
                      "d'organisation."),
    ({" – ": "bron"}, "Table de routage : la clé «  –  » ne désigne aucun éditeur (vide ou seulement de la "
                      "ponctuation)."),
    ({"Ville de Bron": "bron", "BRON": "lyon"}, "Table de routage : les clés « BRON » et « Ville de Bron » "
                                                "désignent le même éditeur mais des organisations différentes."),
    ({str(i): "bron" for i in range(1001)}, "La table de routage a 1001 entrées : 1000 au plus sont permises."),
]


def test_a_bad_routing_table_gets_french_errors_naming_the_key(app, routing_world):
    # One test for all tables: the app (for the French catalogue) costs half a second per test.
    with app.flask_app.test_request_context():
        got = [routing.validate_routing_table(table) for table, _french in BAD_TABLES]
    assert got == [[french] for _table, french in BAD_TABLES]
