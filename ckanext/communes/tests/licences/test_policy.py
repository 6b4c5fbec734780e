"""The licence policy (ckanext.communes.licence_policy = enforce | warn | off) on real
package_create/update calls: through the action API, over HTTP, through the dataset form, and
for harvested datasets (acting as the site user, as the "harvest" sysadmin, or with the
communes_harvest context flag), plus the computed licence_compliance flag."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

POLICY = "ckanext.communes.licence_policy"
NOT_LISTED_FR = "ne figure pas sur la liste des licences"  # French refusal, CRPA D323-2-1
# Actions called from Python run outside a request, so their messages are the English msgids;
# the French ones are checked over HTTP (API and form), where the portal's locale (fr) applies.
THEME = "http://publications.europa.eu/resource/authority/data-theme/ENVI"
# What the dataset schema requires besides the licence.
REQUIRED = {"title": "Jeu de test", "notes": "Un jeu de données de test.", "theme": [THEME]}


@pytest.fixture
def commune():
    """An organisation (a commune) and one of its editors, acting through the API."""
    org = factories.Organization()
    editor = factories.User()
    helpers.call_action(
        "organization_member_create", context={"ignore_auth": True},
        id=org["id"], username=editor["name"], role="editor",
    )
    return {"org": org, "user": editor}


def create(commune, context_extra=None, **fields):
    context = {"user": commune["user"]["name"], **(context_extra or {})}
    return helpers.call_action(
        "package_create", context=context, owner_org=commune["org"]["id"],
        name=fields.pop("name", "jeu-de-test"), **{**REQUIRED, **fields},
    )


def count_datasets() -> int:
    return helpers.call_action("package_search", q="*:*", include_private=True)["count"]


def as_site_user() -> dict:
    """The context ckanext-harvest's harvesters use: the site user, auth ignored."""
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})
    return {"user": site_user["name"], "ignore_auth": True}


# --- enforce (the default) -------------------------------------------------------------------


@pytest.mark.parametrize(("submitted", "stored"), [("etalab-2.0", "etalab-2.0"), ("ODbL-1.0", "ODbL-1.0"),
                                                   ("lov2", "etalab-2.0"), ("odc-odbl", "ODbL-1.0"),
                                                   ("Licence Ouverte v2.0 (Etalab)", "etalab-2.0")])
def test_enforce_accepts_licences_listed_for_data_and_stores_the_registry_id(commune, submitted, stored):
    dataset = create(commune, license_id=submitted)
    assert dataset["license_id"] == stored
    assert dataset["licence_compliance"] == "authorised"
    assert helpers.call_action("package_show", id=dataset["id"])["licence_compliance"] == "authorised"


@pytest.mark.parametrize("licence_id", ["CC-BY-4.0", "cc-by", "grandlyon-engagee", "grandlyon-associee",
                                        "other-open", "PDDL-1.0"])
def test_enforce_refuses_a_licence_not_listed_for_data_citing_crpa_d323_2_1_and_saves_nothing(
    commune, licence_id
):
    with pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id=licence_id)
    [error] = raised.value.error_dict["license_id"]
    assert "D323-2-1" in error and "Licence Ouverte 2.0 or ODbL 1.0" in error
    assert count_datasets() == 0


def test_enforce_refuses_licence_ouverte_1_pointing_to_licence_ouverte_2(commune):
    with pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id="fr-lo")
    [error] = raised.value.error_dict["license_id"]
    assert "Licence Ouverte 1.0 is superseded" in error and "choose Licence Ouverte 2.0" in error
    assert "D323-2-1" in error


def test_enforce_refuses_a_software_licence_on_data(commune):
    with pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id="MIT")
    assert "for software, not for data" in raised.value.error_dict["license_id"][0]


@pytest.mark.parametrize("licence_id", [None, "", "notspecified"])
def test_enforce_accepts_no_licence_and_flags_it_unspecified(commune, licence_id):
    fields = {} if licence_id is None else {"license_id": licence_id}
    dataset = create(commune, **fields)
    assert dataset["licence_compliance"] == "unspecified"


def test_enforce_refuses_an_update_to_a_licence_not_listed_and_keeps_the_stored_one(commune):
    dataset = create(commune, license_id="etalab-2.0")
    with pytest.raises(tk.ValidationError):
        helpers.call_action("package_patch", context={"user": commune["user"]["name"]},
                            id=dataset["id"], license_id="CC-BY-SA-4.0")
    assert helpers.call_action("package_show", id=dataset["id"])["license_id"] == "etalab-2.0"


def test_a_sysadmin_is_not_a_harvester_and_is_refused_too(commune):
    sysadmin = factories.Sysadmin()
    with pytest.raises(tk.ValidationError):
        create(commune, context_extra={"user": sysadmin["name"]}, license_id="CC-BY-4.0")


# --- unknown licences: refused in every mode (bad input, not a policy matter) ----------------


@pytest.mark.parametrize("mode", ["enforce", "warn", "off"])
@pytest.mark.parametrize("value", ["Licence Ouverte (Etalab)", "Licence Etalab", "licence-maison"])
def test_unknown_or_ambiguous_licence_is_a_french_field_error_in_every_mode(commune, mode, value):
    with helpers.changed_config(POLICY, mode), pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id=value)
    [error] = raised.value.error_dict["license_id"]
    assert error == f'Unknown licence "{value}": choose a licence from the list.'
    assert count_datasets() == 0


# --- warn and off ----------------------------------------------------------------------------


@pytest.mark.ckan_config(POLICY, "warn")
@pytest.mark.parametrize(("licence_id", "compliance"), [("CC-BY-4.0", "open_not_listed"),
                                                        ("fr-lo", "open_not_listed"),
                                                        ("grandlyon-associee", "not_open"),
                                                        ("etalab-2.0", "authorised")])
def test_warn_saves_a_licence_not_listed_and_flags_it(commune, licence_id, compliance):
    dataset = create(commune, license_id=licence_id)
    shown = helpers.call_action("package_show", id=dataset["id"])
    assert shown["license_id"] == licence_id
    assert shown["licence_compliance"] == compliance


@pytest.mark.ckan_config(POLICY, "warn")
def test_warn_recomputes_the_flag_on_update_and_ignores_a_submitted_flag(commune):
    dataset = create(commune, license_id="etalab-2.0")
    updated = helpers.call_action("package_patch", context={"user": commune["user"]["name"]},
                                  id=dataset["id"], license_id="grandlyon-engagee", licence_compliance="authorised")
    assert updated["licence_compliance"] == "not_open"


@pytest.mark.ckan_config(POLICY, "off")
@pytest.mark.parametrize(("licence_id", "compliance"), [("CC0-1.0", "open_not_listed"),
                                                        ("grandlyon-engagee", "not_open")])
def test_off_saves_any_registry_licence_and_still_flags_it(commune, licence_id, compliance):
    dataset = create(commune, license_id=licence_id)
    assert dataset["license_id"] == licence_id
    assert dataset["licence_compliance"] == compliance


# --- harvest: never refused, always flagged --------------------------------------------------


@pytest.mark.parametrize("mode", ["enforce", "warn", "off"])
def test_harvest_as_the_site_user_saves_a_licence_not_listed_and_flags_it(commune, mode):
    with helpers.changed_config(POLICY, mode):
        dataset = create(commune, context_extra=as_site_user(), license_id="cc-by")
    assert dataset["license_id"] == "CC-BY-4.0"
    assert dataset["licence_compliance"] == "open_not_listed"


def test_harvest_keeps_an_ambiguous_licence_as_written_and_flags_it_unknown(commune):
    dataset = create(commune, context_extra=as_site_user(), license_id="Licence Ouverte (Etalab)")
    shown = helpers.call_action("package_show", id=dataset["id"])
    assert shown["license_id"] == "Licence Ouverte (Etalab)"
    assert shown["license_title"] == "Licence Ouverte (Etalab)"
    assert shown["licence_compliance"] == "unknown"


def test_harvest_update_of_a_dataset_keeps_the_source_licence(commune):
    dataset = create(commune, context_extra=as_site_user(), license_id="grandlyon-engagee")
    updated = helpers.call_action("package_patch", context=as_site_user(), id=dataset["id"],
                                  license_id="Licence engagée Grand Lyon")
    assert updated["license_id"] == "grandlyon-engagee"
    assert updated["licence_compliance"] == "not_open"


def test_harvest_flag_in_the_context_marks_our_harvesters(commune):
    dataset = create(commune, context_extra={"communes_harvest": True}, license_id="grandlyon-associee")
    assert dataset["licence_compliance"] == "not_open"


def test_harvest_as_the_harvest_sysadmin_of_ckanext_harvest(commune):
    factories.Sysadmin(name="harvest")
    dataset = create(commune, context_extra={"user": "harvest", "ignore_auth": True}, license_id="PDDL-1.0")
    assert dataset["licence_compliance"] == "open_not_listed"


def test_a_normal_user_named_harvest_is_not_a_harvester(commune):
    user = factories.User(name="harvest")
    helpers.call_action("organization_member_create", context={"ignore_auth": True},
                        id=commune["org"]["id"], username=user["name"], role="editor")
    with pytest.raises(tk.ValidationError):
        create(commune, context_extra={"user": "harvest"}, license_id="PDDL-1.0")


# --- over HTTP: the API and the dataset form -------------------------------------------------


@pytest.mark.parametrize(("licence_id", "french"), [
    ("CC-BY-4.0", "Cette licence ne figure pas sur la liste des licences qu'une administration peut fixer "
                  "pour des données (art. D323-2-1 du CRPA)"),
    ("fr-lo", "La Licence Ouverte 1.0 est remplacée"),
    ("MIT", "pour les logiciels, pas pour les données"),
], ids=["not-listed", "superseded", "software"])
def test_http_api_answers_409_with_the_french_field_error_and_saves_nothing(app, commune, licence_id, french):
    token = factories.APIToken(user=commune["user"]["name"])["token"]
    response = app.post("/api/3/action/package_create", headers={"Authorization": token}, json={
        "name": "jeu-http", **REQUIRED, "owner_org": commune["org"]["id"], "license_id": licence_id,
    }, status=409)
    error = response.json["error"]
    assert error["__type"] == "Validation Error"
    assert set(error) == {"__type", "license_id"}
    assert french in error["license_id"][0] and "D323-2-1" in error["license_id"][0]
    assert count_datasets() == 0


def test_http_api_unknown_licence_is_409(app, commune):
    token = factories.APIToken(user=commune["user"]["name"])["token"]
    response = app.post("/api/3/action/package_create", headers={"Authorization": token}, json={
        "name": "jeu-http", **REQUIRED, "owner_org": commune["org"]["id"], "license_id": "pas-une-licence",
    }, status=409)
    assert response.json["error"]["license_id"] == [
        "Licence inconnue « pas-une-licence » : choisissez une licence de la liste."
    ]


def _post_dataset_form(app, commune, licence_id):
    token = factories.APIToken(user=commune["user"]["name"])["token"]
    return app.post(tk.url_for("dataset.new"), headers={"Authorization": token}, data={
        "name": "jeu-formulaire", **REQUIRED, "owner_org": commune["org"]["id"],
        "license_id": licence_id, "save": "", "_ckan_phase": 1,
    }, follow_redirects=False)


def test_dataset_form_shows_the_french_refusal_and_saves_nothing(app, commune):
    response = _post_dataset_form(app, commune, "CC-BY-4.0")
    assert response.status_code == 200
    assert "D323-2-1" in response.body and NOT_LISTED_FR in response.body
    assert count_datasets() == 0


@pytest.mark.ckan_config(POLICY, "warn")
def test_dataset_form_under_warn_saves_the_dataset(app, commune):
    response = _post_dataset_form(app, commune, "CC-BY-4.0")
    assert response.status_code == 302
    dataset = helpers.call_action("package_show", id="jeu-formulaire")
    assert dataset["licence_compliance"] == "open_not_listed"


# --- a user named after the site id is not the site user ----------------------------------------


def test_a_normal_user_named_after_the_site_id_is_not_a_harvester(commune, ckan_config):
    """Only the context flag of our harvesting code, or a sysadmin account, is trusted: anyone could
    register the site id as a user name."""
    impostor = factories.User(name=ckan_config["ckan.site_id"].replace(".", "-"))
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id=commune["org"]["id"],
                        username=impostor["name"], role="editor")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ckan_config, "ckan.site_id", impostor["name"])
        with pytest.raises(tk.ValidationError) as raised:
            create(commune, context_extra={"user": impostor["name"]}, license_id="grandlyon-associee")
    assert "D323-2-1" in raised.value.error_dict["license_id"][0]
    assert count_datasets() == 0


# --- resource licences go through the same registry and policy ---------------------------------


RESOURCE_URL = "https://www.ville-bron.fr/data/arbres.csv"


def test_a_resource_licence_typed_as_text_is_refused_and_nothing_is_saved(commune):
    with pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id="etalab-2.0",
               resources=[{"url": RESOURCE_URL, "license": "tous droits reserves"}])
    [resource_errors] = raised.value.error_dict["resources"]
    assert "tous droits reserves" in resource_errors["license"][0]
    assert count_datasets() == 0


def test_a_resource_licence_off_the_list_is_refused_under_enforce(commune):
    with pytest.raises(tk.ValidationError) as raised:
        create(commune, license_id="etalab-2.0", resources=[{"url": RESOURCE_URL, "license": "CC-BY-4.0"}])
    [resource_errors] = raised.value.error_dict["resources"]
    assert "D323-2-1" in resource_errors["license"][0]
    assert count_datasets() == 0


def test_a_resource_licence_is_stored_as_the_registry_id_and_empty_means_the_datasets(commune):
    dataset = create(commune, license_id="etalab-2.0", resources=[
        {"url": RESOURCE_URL, "license": "Open Database License (ODbL)"},
        {"url": RESOURCE_URL.replace(".csv", ".json"), "license": ""},
    ])
    licences = [resource.get("license") for resource in dataset["resources"]]
    assert licences == ["ODbL-1.0", ""]


def test_resource_licence_harvested_as_written_is_kept(commune):
    dataset = create(commune, context_extra={"communes_harvest": True}, license_id="etalab-2.0",
                     resources=[{"url": RESOURCE_URL, "license": "Tous droits réservés"}])
    assert dataset["resources"][0]["license"] == "Tous droits réservés"


# --- a licence is judged when it is set or changed, not when it stays -------------------------


def test_a_dataset_whose_unchanged_licence_is_off_the_list_stays_editable_under_enforce(commune, ckan_config):
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ckan_config, POLICY, "warn")
        dataset = create(commune, license_id="CC-BY-4.0")
    # Back under enforce: adding a resource and editing the title keep the licence and are saved.
    helpers.call_action("resource_create", context={"user": commune["user"]["name"]},
                        package_id=dataset["id"], url=RESOURCE_URL)
    updated = helpers.call_action("package_patch", context={"user": commune["user"]["name"]},
                                  id=dataset["id"], title="Titre corrigé")
    assert updated["title"] == "Titre corrigé"
    assert updated["license_id"] == "CC-BY-4.0"
    assert updated["licence_compliance"] == "open_not_listed"
    assert len(updated["resources"]) == 1
    # Changing it to another licence off the list is refused, and the stored one stays.
    with pytest.raises(tk.ValidationError):
        helpers.call_action("package_patch", context={"user": commune["user"]["name"]},
                            id=dataset["id"], license_id="CC-BY-SA-4.0")
    assert helpers.call_action("package_show", id=dataset["id"])["license_id"] == "CC-BY-4.0"


def test_a_harvested_unknown_licence_stays_editable_by_the_commune(commune):
    dataset = create(commune, context_extra={"communes_harvest": True}, license_id="Licence Etalab")
    updated = helpers.call_action("package_patch", context={"user": commune["user"]["name"]},
                                  id=dataset["id"], notes="Description complétée par la commune.")
    assert updated["license_id"] == "Licence Etalab"
    assert updated["licence_compliance"] == "unknown"


def test_the_form_warns_about_an_unchanged_licence_off_the_list(app, commune, ckan_config):
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ckan_config, POLICY, "warn")
        dataset = create(commune, license_id="CC-BY-4.0")
    user = commune["user"]
    page = app.get(f"/dataset/edit/{dataset['name']}", headers={"Authorization": factories.APIToken(
        user=user["name"])["token"]}, status=200)
    assert "communes-licence-warning" in page.body
    authorised = create(commune, name="jeu-autorise", license_id="etalab-2.0")
    page = app.get(f"/dataset/edit/{authorised['name']}", headers={"Authorization": factories.APIToken(
        user=user["name"])["token"]}, status=200)
    assert "communes-licence-warning" not in page.body
