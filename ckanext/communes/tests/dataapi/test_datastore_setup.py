"""The DataStore as dev/stack.sh, make run and docker/ set it up: its own database, a read-only user that
reads it and nothing else; xloader's API token made once; ckanext-xloader installed without its conflicting
bounds and nothing else out of step."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import psycopg2
import pytest
import sqlalchemy as sa
from ckan.tests import factories

from ckanext.communes.dataapi import cli as dataapi_cli
from ckanext.communes.tests.dataapi.conftest import DATA_API

pytestmark = [DATA_API]


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.usefixtures("clean_datastore")
def test_the_read_only_user_reads_the_datastore_and_cannot_write_it_nor_reach_the_ckan_database(ckan_config):
    read_url, main_url = ckan_config["ckan.datastore.read_url"], ckan_config["sqlalchemy.url"]
    assert sa.engine.make_url(read_url).database != sa.engine.make_url(main_url).database
    with psycopg2.connect(_libpq(read_url)) as connection, connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "_table_metadata"')
        assert cursor.fetchone()[0] >= 0
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("CREATE TABLE intrus (a int)")
    reader = sa.engine.make_url(read_url)
    into_main = sa.engine.make_url(main_url).set(username=reader.username, password=reader.password)
    with pytest.raises(psycopg2.OperationalError, match="CONNECT"):
        psycopg2.connect(_libpq(into_main.render_as_string(hide_password=False)))


def test_the_loader_token_is_made_once_written_into_the_ini_and_kept(clean_db, ckan_config, monkeypatch,
                                                                       tmp_path: pathlib.Path):
    admin = factories.Sysadmin()
    ini = tmp_path / "ckan.ini"
    ini.write_text("[app:main]\nckan.site_url = http://127.0.0.1:5000\n", encoding="utf-8")
    monkeypatch.setitem(ckan_config, "ckanext.xloader.api_token", "NOT_SET")
    assert dataapi_cli.ensure_loader_token(admin["name"], str(ini)) == "created"
    written = [line for line in ini.read_text(encoding="utf-8").splitlines() if "xloader.api_token" in line]
    assert len(written) == 1 and written[0].split("=", 1)[1].strip() == ckan_config["ckanext.xloader.api_token"]
    assert dataapi_cli.ensure_loader_token(admin["name"], str(ini)) == "kept"
    assert ini.read_text(encoding="utf-8").count("xloader.api_token") == 1


def test_pip_check_reports_only_xloaders_three_bounds_over_ckans_pins():
    """requirements-nodeps.txt: xloader installed without its dependencies because of exactly these."""
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    problems = sorted(line for line in result.stdout.splitlines() if line.strip())
    assert [line.split(" has requirement ")[1].split(",")[0] for line in problems] == [
        "certifi>=2026.7.22", "idna>=3.20", "urllib3>=2.8.0"], result.stdout
    assert all(line.startswith("ckanext-xloader 2.6.0 ") for line in problems), result.stdout


def test_xloaders_own_words_are_french(app):
    """ckanext-xloader ships no French: its badge and DataStore page read ours
    (dev/i18n/third-party/ckanext-xloader.fr.po)."""
    import ckan.plugins.toolkit as tk

    with app.flask_app.test_request_context(environ_overrides={"CKAN_LANG": "fr"}):
        assert tk._("Failed to load data into DataStore") == "Échec du chargement des données dans le DataStore"
        assert tk._("Upload to DataStore") == "Charger dans le DataStore"
        assert tk._("Data awaiting load to DataStore") == "Données en attente de chargement dans le DataStore"
