"""The suite runs in several processes (pytest-xdist, `dev/test.sh -n N`): each worker gets services of its own.

Tests reset the database, empty the Solr core, fill Redis queues and build webassets in the storage folder: two
processes sharing any of them would wipe each other's data mid-test. dev/stack.sh creates, for each worker gwK, a
database `<name>_gwK`, a DataStore database `<datastore>_gwK` and a Solr core `<core>_gwK`; this module points the
worker at them through the environment variables CKAN reads over its configuration (CONFIG_FROM_ENV_VARS), before
CKAN's pytest plugin loads the configuration (its pytest_sessionstart). Redis needs no setup: each worker takes
the database number after the configured one plus K (Redis has 16).

Outside xdist (one process, or the controller, which runs no test) nothing changes."""

from __future__ import annotations

import configparser
import os
import pathlib
from urllib.parse import urlsplit, urlunsplit

# CKAN's option -> the variable that overrides it (ckan.config.environment.CONFIG_FROM_ENV_VARS).
DATABASE_OPTIONS = {"sqlalchemy.url": "CKAN_SQLALCHEMY_URL",
                    "ckan.datastore.write_url": "CKAN_DATASTORE_WRITE_URL",
                    "ckan.datastore.read_url": "CKAN_DATASTORE_READ_URL"}
SOLR_OPTION = ("solr_url", "CKAN_SOLR_URL")
REDIS_OPTION = ("ckan.redis.url", "CKAN_REDIS_URL")
STORAGE_OPTION = ("ckan.storage_path", "CKAN_STORAGE_PATH")


def worker_id() -> str | None:
    """gw0, gw1... in an xdist worker (xdist sets the variable before the worker reads its configuration)."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def _ini_options(ini: pathlib.Path) -> dict[str, str]:
    parser = configparser.ConfigParser(defaults={"here": str(ini.resolve().parent)}, strict=False)
    parser.read(ini, encoding="utf-8")
    return dict(parser["app:main"]) if parser.has_section("app:main") else {}


def _with_last_path_segment_suffixed(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit(parts._replace(path=path + suffix))


def _with_redis_database_shifted(url: str, shift: int) -> str:
    parts = urlsplit(url)
    current = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{current + shift}"))


def worker_environment(ini: pathlib.Path, worker: str, environ: dict[str, str]) -> dict[str, str]:
    """The variables that give `worker` its own services, from what the environment or the ini configures."""
    options = _ini_options(ini)

    def configured(option: str, variable: str) -> str | None:
        return environ.get(variable) or options.get(option)

    suffix = "_" + worker
    number = int(worker.removeprefix("gw"))
    changes: dict[str, str] = {}
    for option, variable in DATABASE_OPTIONS.items():
        if value := configured(option, variable):
            changes[variable] = _with_last_path_segment_suffixed(value, suffix)
    if value := configured(*SOLR_OPTION):
        changes[SOLR_OPTION[1]] = _with_last_path_segment_suffixed(value, suffix)
    if value := configured(*REDIS_OPTION):
        changes[REDIS_OPTION[1]] = _with_redis_database_shifted(value, number + 1)
    if value := configured(*STORAGE_OPTION):
        changes[STORAGE_OPTION[1]] = value.rstrip("/") + suffix
    return changes


def use_own_services(ini: str | None) -> None:
    """Called from pytest_configure: in an xdist worker, point CKAN at the worker's own services."""
    worker = worker_id()
    if worker is None or not ini:
        return
    os.environ.update(worker_environment(pathlib.Path(ini), worker, dict(os.environ)))


if __name__ == "__main__":
    # dev/test.sh: `eval "$(python -m ckanext.communes.tests.worker_services test.ini gw0)"` before `ckan db init`.
    import shlex
    import sys

    for name, value in worker_environment(pathlib.Path(sys.argv[1]), sys.argv[2], dict(os.environ)).items():
        print(f"export {name}={shlex.quote(value)}")
