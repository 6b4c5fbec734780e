"""The suite's processes each get services of their own (worker_services.py): two workers sharing a database,
a Solr core, a Redis database or a storage folder would wipe each other's data mid-test."""

from __future__ import annotations

import pathlib

from ckanext.communes.tests import worker_services

INI = """[app:main]
sqlalchemy.url = postgresql://ckan_default:pass@127.0.0.1:5433/ckan_test
ckan.datastore.write_url = postgresql://ckan_default:pass@127.0.0.1:5433/datastore_test
ckan.datastore.read_url = postgresql://datastore_ro:pass@127.0.0.1:5433/datastore_test
solr_url = http://127.0.0.1:8983/solr/ckan_test
ckan.redis.url = redis://127.0.0.1:6390/1
ckan.storage_path = %(here)s/.dev/test-storage
"""


def test_each_worker_has_its_own_database_datastore_core_redis_database_and_storage(tmp_path: pathlib.Path):
    ini = tmp_path / "test.ini"
    ini.write_text(INI, encoding="utf-8")
    first = worker_services.worker_environment(ini, "gw0", {})
    second = worker_services.worker_environment(ini, "gw1", {})
    assert first == {
        "CKAN_SQLALCHEMY_URL": "postgresql://ckan_default:pass@127.0.0.1:5433/ckan_test_gw0",
        "CKAN_DATASTORE_WRITE_URL": "postgresql://ckan_default:pass@127.0.0.1:5433/datastore_test_gw0",
        "CKAN_DATASTORE_READ_URL": "postgresql://datastore_ro:pass@127.0.0.1:5433/datastore_test_gw0",
        "CKAN_SOLR_URL": "http://127.0.0.1:8983/solr/ckan_test_gw0",
        "CKAN_REDIS_URL": "redis://127.0.0.1:6390/2",
        "CKAN_STORAGE_PATH": f"{tmp_path}/.dev/test-storage_gw0",
    }
    assert all(first[name] != second[name] for name in first)
    assert second["CKAN_REDIS_URL"] == "redis://127.0.0.1:6390/3"


def test_the_environment_wins_over_the_ini_as_it_does_for_ckan(tmp_path: pathlib.Path):
    """CI points the suite at other ports through CKAN_* variables: the workers' services follow them."""
    ini = tmp_path / "test.ini"
    ini.write_text(INI, encoding="utf-8")
    environment = worker_services.worker_environment(ini, "gw1", {
        "CKAN_SQLALCHEMY_URL": "postgresql://ckan_default:pass@127.0.0.1:5434/ckan_test",
        "CKAN_SOLR_URL": "http://127.0.0.1:8984/solr/ckan_test/",
        "CKAN_REDIS_URL": "redis://127.0.0.1:6391"})
    assert environment["CKAN_SQLALCHEMY_URL"] == "postgresql://ckan_default:pass@127.0.0.1:5434/ckan_test_gw1"
    assert environment["CKAN_SOLR_URL"] == "http://127.0.0.1:8984/solr/ckan_test_gw1"
    assert environment["CKAN_REDIS_URL"] == "redis://127.0.0.1:6391/2"


def test_this_process_uses_the_services_of_its_worker():
    """Run by dev/test.sh in a worker: CKAN's configuration is the worker's, not the shared one."""
    from ckan.common import config

    worker = worker_services.worker_id()
    names = [config["sqlalchemy.url"].rsplit("/", 1)[1], config["solr_url"].rstrip("/").rsplit("/", 1)[1],
             config["ckan.datastore.write_url"].rsplit("/", 1)[1]]
    if worker is None:
        assert not any("_gw" in name for name in names), names
    else:
        assert all(name.endswith("_" + worker) for name in names), names
        assert config["ckan.storage_path"].endswith("_" + worker)
