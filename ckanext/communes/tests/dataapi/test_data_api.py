"""The Data API (CKAN's datastore_search and datastore_search_sql) on our portal: public for a public
dataset's table, refused for a private one to whoever may not see the dataset, per role of the permission
matrix; datastore_search_sql answers reads of the DataStore's tables only (no write, no system table)."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.communes.conftest import ROLES, api_post
from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_datastore")]

RECORDS = [{"nom": "Stade de Parilly", "type": "stade"}, {"nom": "Piscine du Grand Large", "type": "piscine"}]
# Who sees a private dataset of Bron: the portal's own rule (package_show), written out here: its members and
# the sysadmins; the programme operators (admins of the Métropole) do not (they see harvest sources).
SEES_PRIVATE = {"sysadmin", "commune_admin", "commune_editor"}


def _table(dataset: dict[str, Any]) -> str:
    """The resource's DataStore table, created through the API as xloader does."""
    resource_id = dataset["resources"][0]["id"]
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    helpers.call_action("datastore_create", context={"user": site_user}, resource_id=resource_id, force=True,
                        fields=[{"id": "nom", "type": "text"}, {"id": "type", "type": "text"}],
                        records=RECORDS)
    return resource_id


@pytest.fixture
def tables(people) -> dict[str, str]:
    bron = helpers.call_action("organization_show", id="bron")["id"]
    public = create_dataset(bron, "https://example.org/public.csv", name="public-bron")
    private = create_dataset(bron, "https://example.org/private.csv", name="private-bron", private=True)
    return {"public": _table(public), "private": _table(private)}


def test_each_role_reads_a_public_table_and_a_private_one_only_if_it_sees_the_dataset(app, people, tables):
    """Every role against both tables, every check run and each wrong answer listed."""
    wrong: list[str] = []
    for role in ROLES:
        token = people.token(role)
        for visibility, resource_id in tables.items():
            allowed = visibility == "public" or role in SEES_PRIVATE
            search = api_post(app, "datastore_search", {"resource_id": resource_id, "q": "Parilly"}, token)
            sql = api_post(app, "datastore_search_sql",
                           {"sql": f'SELECT nom FROM "{resource_id}" ORDER BY nom'}, token)
            dataset = api_post(app, "package_show", {"id": f"{visibility}-bron"}, token)
            if (dataset.status_code == 200) != allowed:
                wrong.append(f"{role}/{visibility}: package_show {dataset.status_code}")
            if allowed:
                if search.status_code != 200 or [r["nom"] for r in search.json["result"]["records"]] != [
                        "Stade de Parilly"]:
                    wrong.append(f"{role}/{visibility}: datastore_search {search.status_code} {search.json}")
                if sql.status_code != 200 or [r["nom"] for r in sql.json["result"]["records"]] != [
                        "Piscine du Grand Large", "Stade de Parilly"]:
                    wrong.append(f"{role}/{visibility}: datastore_search_sql {sql.status_code} {sql.json}")
            else:
                if search.status_code != 403 or "Parilly" in str(search.json):
                    wrong.append(f"{role}/{visibility}: datastore_search leaked ({search.status_code})")
                if sql.status_code != 403 or "Parilly" in str(sql.json):
                    wrong.append(f"{role}/{visibility}: datastore_search_sql leaked ({sql.status_code})")
    assert wrong == []


REFUSED_SQL = [
    'DELETE FROM "{table}"',
    'UPDATE "{table}" SET nom = \'x\'',
    'INSERT INTO "{table}" (nom) VALUES (\'x\')',
    'DROP TABLE "{table}"',
    'TRUNCATE "{table}"',
    'SELECT nom FROM "{table}"; DELETE FROM "{table}"',
    'CREATE TABLE evil AS SELECT * FROM "{table}"',
    'WITH gone AS (DELETE FROM "{table}" RETURNING *) SELECT * FROM gone',
    'SELECT * FROM "{table}" FOR UPDATE',
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT usename, passwd FROM pg_shadow",
    "SELECT rolname FROM pg_roles",
    "SELECT * FROM pg_catalog.pg_user",
    "SELECT table_name FROM information_schema.tables",
    "SELECT * FROM pg_stat_activity",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/x'",
    "SELECT * FROM dblink('dbname=ckan_test', 'select 1') AS t(a int)",
]


def test_datastore_search_sql_refuses_writes_and_system_tables_even_to_a_sysadmin(app, people, tables):
    """Every statement tried, each one answered (or a 500) listed; the table is whole after them all."""
    table = tables["public"]
    token = people.token("sysadmin")
    answered: list[str] = []
    for sql in REFUSED_SQL:
        response = api_post(app, "datastore_search_sql", {"sql": sql.format(table=table)}, token)
        if response.status_code not in (400, 403, 409) or response.json.get("success") is not False:
            answered.append(f"{sql}: {response.status_code}")
    assert answered == []
    assert helpers.call_action("datastore_search", resource_id=table)["total"] == len(RECORDS)
