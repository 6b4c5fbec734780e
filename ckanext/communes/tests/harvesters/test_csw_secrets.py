"""CSW source passwords at rest and on the wire: encrypted wherever they are stored (the ``harvest_source``
row and the source dataset's ``config`` extra; never in activities nor the index, clear or encrypted), sent
only to the host they were given for, re-encrypted by ``ckan communes secrets rotate``. A real GeoNetwork
fixture server on 127.0.0.1 checks the Authorization header; the assertions read PostgreSQL and Solr."""

from __future__ import annotations

import base64
import json
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
import sqlalchemy as sa
from ckan import model
from ckan.lib.search import rebuild
from ckan.tests import helpers
from click.testing import CliRunner
from cryptography.fernet import Fernet

from ckanext.communes.harvesters import jobs
from ckanext.communes.tests.communes.conftest import ROLES, make_people
from ckanext.communes.tests.harvesters.checks import assert_failed_safely, harvested, state_of
from ckanext.communes.tests.harvesters.test_csw_harvest import GeoNetwork, make_source, portal  # noqa: F401

OPTION = "ckanext.communes.secrets_key"
USER = "lyon-harvest"
SECRET = "Tr3s-s3cr3t-Basic"
MASK = "********"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def credentials(**more: Any) -> dict[str, Any]:
    return {"username": USER, "password": SECRET, "page_size": 10, **more}


def stored_configs(source_id: str) -> dict[str, dict[str, Any]]:
    """The two stored copies of a source's config, read from the tables."""
    row = model.Session.execute(sa.text("SELECT config FROM harvest_source WHERE id = :id"), {"id": source_id}).one()
    extra = model.Session.execute(sa.text("SELECT extras->>'config' FROM package WHERE id = :id"),
                                  {"id": source_id}).one()
    return {"harvest_source": json.loads(row[0]), "package": json.loads(extra[0])}


def token_of(config: dict[str, Any]) -> str:
    password = config["password"]
    assert isinstance(password, dict) and set(password) == {"fernet"}, password  # an encrypted value, not text
    return password["fernet"]


def tables_containing(text: str) -> list[str]:
    """Every table of the database with a row whose text holds ``text``."""
    tables = model.Session.execute(sa.text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")).scalars().all()
    return [table for table in tables if model.Session.execute(
        sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :pattern'),
        {"pattern": f"%{text}%"}).scalar()]


def solr_document(package_id: str) -> str:
    from ckan.lib.search.common import make_connection

    return json.dumps(make_connection().search(q=f'id:"{package_id}"', fl="*").docs, default=str)


def write_clear_config(source_id: str, config: dict[str, Any]) -> None:
    """A config stored the way the previous version stored it (password in clear), in both copies."""
    text = json.dumps(config)
    model.Session.execute(sa.text("UPDATE harvest_source SET config = :c WHERE id = :id"), {"c": text, "id": source_id})
    model.Session.execute(sa.text("UPDATE package SET extras = jsonb_set(extras, '{config}', "
                                  "to_jsonb(CAST(:c AS text))) WHERE id = :id"), {"c": text, "id": source_id})
    model.Session.commit()
    rebuild(source_id)  # package_show reads the index while metadata_modified is unchanged


def sysadmin_context(portal: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    return {"user": portal["sysadmin"]["name"]}


def french_config_error(app: Any, action: str, **data: Any) -> str:
    """The French error on ``config`` of an action that must refuse."""
    with app.flask_app.test_request_context(), pytest.raises(tk.ValidationError) as raised:
        helpers.call_action(action, **data)
    return " ".join(raised.value.error_dict["config"])


def rotate(*args: str) -> Any:
    from ckanext.communes.harvesters.cli import secrets

    return CliRunner().invoke(secrets, ["rotate", *args])


# --------------------------------------------------------------------------------------------- at rest


def test_the_password_is_encrypted_in_every_table_and_sent_to_its_host(portal, source_server, ckan_config):  # noqa: F811
    gn = GeoNetwork(source_server, credentials=(USER, SECRET), restricted=frozenset({0}))
    source = make_source(portal, gn.url, config=credentials())
    helpers.call_action("harvest_source_patch", context=sysadmin_context(portal), id=source["id"], notes="Saved twice")
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    assert "Arbres d'alignement de Bron" in harvested(source["id"])  # the restricted record came with the auth
    assert [h.get("authorization") for h in source_server.headers] == [basic(USER, SECRET)]
    assert source_server.headers[0]["host"] == f"127.0.0.1:{source_server.port}"

    configs = stored_configs(source["id"])
    tokens = {where: token_of(config) for where, config in configs.items()}
    key = Fernet(ckan_config[OPTION].encode())
    for where, token in tokens.items():
        assert SECRET in key.decrypt(token.encode()).decode(), where  # encrypted with the configured key
        assert configs[where]["username"] == USER and configs[where]["page_size"] == 10
    # Nowhere in clear (nor as the Basic header); the ciphertext only where the config is stored: not in
    # the activities (they keep package_show's masked dict) nor in the search index.
    assert tables_containing(SECRET) == []
    assert tables_containing(basic(USER, SECRET).split()[1]) == []
    for token in tokens.values():
        assert tables_containing(token) == ["harvest_source", "package"]
        assert token not in solr_document(source["id"])
    assert SECRET not in solr_document(source["id"])
    activity_data = model.Session.execute(sa.text("SELECT data::text FROM activity WHERE object_id = :id"),
                                          {"id": source["id"]}).scalars().all()
    assert len(activity_data) == 2 and all(MASK in data and "fernet" not in data for data in activity_data)


def test_no_role_sees_the_password_nor_its_ciphertext(portal, source_server, app):  # noqa: F811
    people = make_people()
    gn = GeoNetwork(source_server, credentials=(USER, SECRET))
    source = make_source(portal, gn.url, config=credentials(), owner="bron")
    helpers.call_action("harvest_source_patch", context=sysadmin_context(portal), id=source["id"], notes="Catalogue")
    jobs.run_source(source["id"])
    token = token_of(stored_configs(source["id"])["harvest_source"])
    activity_ids = [a["id"] for a in helpers.call_action("package_activity_list", context=sysadmin_context(portal),
                                                         id=source["id"])]
    assert len(activity_ids) == 2
    name = source["name"]
    readable = {}
    for role in ROLES:
        headers = {"Authorization": people.token(role)} if role != "anonymous" else {}
        paths = [f"/api/3/action/package_show?id={name}", f"/api/3/action/harvest_source_show?id={name}",
                 "/api/3/action/harvest_source_list", f"/api/3/action/package_activity_list?id={name}",
                 "/api/3/action/organization_activity_list?id=bron",
                 "/api/3/action/package_search?fq=dataset_type:harvest&include_private=true",
                 f"/harvest/{name}", f"/harvest/edit/{name}", f"/harvest/about/{name}", f"/dataset/activity/{name}",
                 *(f"/api/3/action/activity_data_show?id={i}" for i in activity_ids),
                 *(f"/api/3/action/activity_show?id={i}" for i in activity_ids),
                 *(f"/dataset/changes/{i}" for i in activity_ids)]
        for path in paths:
            response = app.get(path, headers=headers)
            assert SECRET not in response.body and token not in response.body, (role, path)
            assert '"fernet"' not in response.body and "fernet&#34;" not in response.body, (role, path)
        readable[role] = app.get(f"/api/3/action/package_show?id={name}", headers=headers).status_code
        if readable[role] == 200:
            shown = app.get(f"/api/3/action/harvest_source_show?id={name}", headers=headers).json["result"]
            assert json.loads(shown["config"])["password"] == MASK and shown["password"] == MASK
    # The probe reached the source for those who may read it.
    assert readable == {"sysadmin": 200, "operator": 200, "commune_admin": 200, "commune_editor": 200,
                        "other_admin": 403, "anonymous": 403}


# --------------------------------------------------------------------------------------------- host change


def test_a_new_host_keeping_the_mask_is_refused_in_french_and_the_password_asked_again(portal, source_server, app):  # noqa: F811
    gn = GeoNetwork(source_server, credentials=(USER, SECRET))
    source = make_source(portal, gn.url, config=credentials())
    context = sysadmin_context(portal)
    before = stored_configs(source["id"])
    shown = helpers.call_action("harvest_source_show", context=dict(context), id=source["id"])
    fields = {k: shown[k] for k in ("id", "name", "title", "source_type", "owner_org")}
    port = source_server.port
    for new_url in (gn.url.replace("127.0.0.1", "localhost"),  # another host name
                    gn.url.replace("http://", "https://"),  # another scheme
                    gn.url.replace(f":{port}/", f":{port + 1}/")):  # another port
        # the edit form and harvest_source_update send the mask back; harvest_source_patch merges it from
        # package_show; an update may also leave the config out (ckanext-harvest then keeps the stored one)
        for action, data in (("harvest_source_update", {**fields, "url": new_url, "config": shown["config"]}),
                             ("harvest_source_patch", {"id": source["id"], "url": new_url}),
                             ("package_patch", {"id": source["id"], "url": new_url}),
                             ("harvest_source_update", {**fields, "url": new_url})):
            message = french_config_error(app, action, context=dict(context), **data)
            assert "Saisissez à nouveau le mot de passe" in message and "127.0.0.1" in message, (action, new_url)
    assert helpers.call_action("harvest_source_show", context=dict(context), id=source["id"])["url"] == gn.url
    assert stored_configs(source["id"]) == before  # nothing saved

    # Same scheme, host and port (the default port written out, another query): the password stays.
    same_origin = gn.url + "?portal=metropole"
    helpers.call_action("harvest_source_patch", context=dict(context), id=source["id"], url=same_origin)
    jobs.run_source(source["id"])
    assert [h.get("authorization") for h in source_server.headers] == [basic(USER, SECRET)]

    # A new host with the password typed again: accepted, sent there.
    gn.credentials = (USER, "n0uveau")
    other_host = same_origin.replace("127.0.0.1", "localhost")
    helpers.call_action("harvest_source_patch", context=dict(context), id=source["id"], url=other_host,
                        config=json.dumps(credentials(password="n0uveau")))
    source_server.headers.clear()
    jobs.run_source(source["id"])
    assert [(h["host"], h.get("authorization")) for h in source_server.headers] == [
        (f"localhost:{port}", basic(USER, "n0uveau"))]


def test_a_job_never_sends_a_password_stored_for_another_host(portal, source_server, app):  # noqa: F811
    gn = GeoNetwork(source_server, credentials=(USER, SECRET))
    source = make_source(portal, gn.url, config=credentials(max_withdraw_percent=100))
    jobs.run_source(source["id"])
    before = state_of(source["id"])
    # The URL changed behind the actions' back (SQL, an older version of the extension...).
    model.Session.execute(sa.text("UPDATE harvest_source SET url = :url WHERE id = :id"),
                          {"url": gn.url.replace("127.0.0.1", "localhost"), "id": source["id"]})
    model.Session.commit()
    source_server.requests.clear()
    source_server.headers.clear()
    with app.flask_app.test_request_context():
        job = jobs.run_source(source["id"])
    report = assert_failed_safely(job, before, source["id"])
    assert source_server.requests == []  # nothing sent: neither the password nor an anonymous request
    message = " ".join(m["message"] for m in report.messages)
    assert f"http://127.0.0.1:{source_server.port}" in message and "il n'est pas envoyé" in message


# --------------------------------------------------------------------------------------------- keys


@pytest.mark.ckan_config(OPTION, "")
def test_without_a_key_a_password_is_refused_in_french_and_a_clear_one_still_works(portal, source_server, app):  # noqa: F811
    gn = GeoNetwork(source_server, credentials=(USER, SECRET), restricted=frozenset({0}))
    message = french_config_error(app, "harvest_source_create", context=sysadmin_context(portal),
                                  name="geonetwork-metropole", title="GeoNetwork", url=gn.url,
                                  source_type="communes_csw", owner_org="metropole-de-lyon",
                                  config=json.dumps(credentials()))
    assert OPTION in message and "mot de passe" in message and "chiffrement" in message
    assert model.Session.execute(sa.text("SELECT count(*) FROM harvest_source")).scalar() == 0
    assert tables_containing(SECRET) == []

    # A clear password stored before encryption existed is still read, and saving the source keeps it.
    source = make_source(portal, gn.url, config={"page_size": 10})
    write_clear_config(source["id"], credentials())
    helpers.call_action("harvest_source_patch", context=sysadmin_context(portal), id=source["id"], notes="Edited")
    assert stored_configs(source["id"])["harvest_source"]["password"] == SECRET
    jobs.run_source(source["id"])
    assert [h.get("authorization") for h in source_server.headers] == [basic(USER, SECRET)]
    assert "Arbres d'alignement de Bron" in harvested(source["id"])


def test_rotate_encrypts_clear_passwords_with_the_first_key_and_is_idempotent(portal, source_server, ckan_config,  # noqa: F811
                                                                              monkeypatch, cli):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(ckan_config, OPTION, old_key)
    gn = GeoNetwork(source_server, credentials=(USER, SECRET))
    encrypted = make_source(portal, gn.url, config=credentials())
    clear = helpers.call_action("harvest_source_create", context=sysadmin_context(portal), name="geonetwork-clair",
                                title="GeoNetwork (ancien)", url=gn.url + "?portal=clair", source_type="communes_csw",
                                owner_org="metropole-de-lyon", config=json.dumps({"page_size": 10}))
    write_clear_config(clear["id"], credentials())
    # An activity recorded before the password was masked.
    model.Session.execute(sa.text(
        "UPDATE activity SET data = jsonb_set(data::jsonb, '{package,config}', to_jsonb(CAST(:c AS text)))::json "
        "WHERE object_id = :id"), {"c": json.dumps(credentials()), "id": clear["id"]})
    model.Session.commit()
    assert tables_containing(SECRET) == ["activity", "harvest_source", "package"]

    monkeypatch.setitem(ckan_config, OPTION, f"{new_key}, {old_key}")  # a new first key; the old one still decrypts
    before = {s["id"]: stored_configs(s["id"]) for s in (encrypted, clear)}
    result = rotate("--dry-run")
    assert result.exit_code == 0, result.output
    assert "encrypted (were in clear): 2" in result.output and "re-encrypted with the first key: 2" in result.output
    assert "activities masked: 1" in result.output and "dry run" in result.output
    assert {s["id"]: stored_configs(s["id"]) for s in (encrypted, clear)} == before

    result = rotate()
    assert result.exit_code == 0, result.output
    assert "encrypted (were in clear): 2" in result.output and "re-encrypted with the first key: 2" in result.output
    assert "already encrypted with the first key: 0" in result.output and "activities masked: 1" in result.output
    assert tables_containing(SECRET) == []
    after = {s["id"]: stored_configs(s["id"]) for s in (encrypted, clear)}
    for configs in after.values():
        for config in configs.values():
            assert SECRET in Fernet(new_key.encode()).decrypt(token_of(config).encode()).decode()

    result = rotate()  # idempotent: nothing left to do, nothing written
    assert result.exit_code == 0, result.output
    assert "encrypted (were in clear): 0" in result.output and "re-encrypted with the first key: 0" in result.output
    assert "already encrypted with the first key: 4" in result.output and "activities masked: 0" in result.output
    assert {s["id"]: stored_configs(s["id"]) for s in (encrypted, clear)} == after

    monkeypatch.setitem(ckan_config, OPTION, new_key)  # the old key removed
    for source in (encrypted, clear):
        source_server.headers.clear()
        jobs.run_source(source["id"])
        assert [h.get("authorization") for h in source_server.headers] == [basic(USER, SECRET)]

    # Wired under `ckan communes secrets`.
    from ckan.cli.cli import ckan

    result = cli.invoke(ckan, ["communes", "secrets", "generate-key"])
    assert result.exit_code == 0, result.output
    Fernet(result.output.strip().encode())


def test_a_password_the_keys_cannot_decrypt_fails_the_job_in_french_and_sends_nothing(
        portal, source_server, app, ckan_config, monkeypatch):  # noqa: F811
    gn = GeoNetwork(source_server, credentials=(USER, SECRET), restricted=frozenset({0}))
    source = make_source(portal, gn.url, config=credentials(max_withdraw_percent=100))
    jobs.run_source(source["id"])
    before, stored = state_of(source["id"]), stored_configs(source["id"])
    context = sysadmin_context(portal)
    for key, expected in ((Fernet.generate_key().decode(), "ne peut pas être déchiffré"),  # the key was changed
                          ("", "ne peut pas être déchiffré"),  # the key was removed
                          ("pas-une-clé", "clé invalide")):  # the option holds no key
        monkeypatch.setitem(ckan_config, OPTION, key)
        source_server.requests.clear()
        with app.flask_app.test_request_context():
            job = jobs.run_source(source["id"])
            preview = helpers.call_action("communes_harvest_preview", context=dict(context), id=source["id"])
        report = assert_failed_safely(job, before, source["id"])
        assert source_server.requests == []  # neither the ciphertext as a password nor an anonymous request
        message = " ".join(m["message"] for m in report.messages)
        assert OPTION in message and expected in message, message
        assert any(OPTION in m["message"] for m in preview["messages"] if m["level"] == "error")
        shown = helpers.call_action("harvest_source_show", context=dict(context), id=source["id"])
        assert json.loads(shown["config"])["password"] == MASK
        # An edit that keeps the mask, same host: saved, the stored value untouched.
        helpers.call_action("harvest_source_patch", context=dict(context), id=source["id"], notes=f"key {key[:4]}")
        assert stored_configs(source["id"]) == stored
    # A new password cannot be stored with a key that is not one.
    message = french_config_error(app, "harvest_source_patch", context=dict(context), id=source["id"],
                                  config=json.dumps(credentials(password="n0uveau")))
    assert OPTION in message and "clé invalide" in message

    monkeypatch.setitem(ckan_config, OPTION, Fernet.generate_key().decode())
    result = rotate()
    assert result.exit_code == 1 and "undecryptable (key missing): 2" in result.output
    assert "geonetwork-metropole" in result.output
    assert stored_configs(source["id"]) == stored


def test_a_password_cannot_be_given_as_an_encrypted_value(portal, source_server, app):  # noqa: F811
    """Only the portal writes encrypted values: one copied in from elsewhere (bound to another source's
    host, or forged) is refused like any password that is not text."""
    gn = GeoNetwork(source_server, credentials=(USER, SECRET))
    token = Fernet(tk.config[OPTION].encode()).encrypt(b'{"secret": "x", "origin": "http://127.0.0.1"}').decode()
    message = french_config_error(app, "harvest_source_create", context=sysadmin_context(portal),
                                  name="geonetwork-metropole", title="GeoNetwork", url=gn.url,
                                  source_type="communes_csw", owner_org="metropole-de-lyon",
                                  config=json.dumps({"username": USER, "password": {"fernet": token}}))
    assert "password" in message and "texte" in message
