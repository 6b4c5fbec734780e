"""Helpers of docker/entrypoint.sh that run before CKAN can load (no CKAN import here):

    startup.py check     refuse what cannot work: a key for the stored passwords that is not a Fernet key,
                         a plugin list without ours, a database URL without a password
    startup.py options   the environment's options as an ini to merge (`ckan config-tool INI -f FILE`)
    startup.py wait      wait for PostgreSQL, Solr and Redis (CKAN_WAIT_TIMEOUT seconds, 120 by default)

Exits 1 with a message naming the variable on what the operator must fix."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PREFIXES = (("CKAN___", ""), ("CKAN__", "ckan."), ("CKANEXT__", "ckanext."))
REQUIRED_PLUGINS = ("communes",)


def fail(message: str) -> None:
    print(f"entrypoint: ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def option_name(variable: str) -> str | None:
    """ckanext-envvars' naming: CKAN__A__B -> ckan.a.b, CKANEXT__A__B -> ckanext.a.b, CKAN___A__B -> a.b."""
    for prefix, replacement in PREFIXES:
        if variable.startswith(prefix):
            return replacement + variable[len(prefix):].lower().replace("__", ".")
    return None


def options(environ: dict[str, str]) -> dict[str, str]:
    found = {}
    for variable, value in sorted(environ.items()):
        name = option_name(variable)
        if name and value.strip():
            found[name] = value.strip()
    found["SECRET_KEY"] = environ["CKAN_SECRET_KEY"].strip()
    # A secret of the old example would be written next to SECRET_KEY: CKAN 2.12 reads SECRET_KEY only.
    found.pop("beaker.session.secret", None)
    return found


def check(environ: dict[str, str]) -> None:
    keys = [key for key in environ["CKANEXT__COMMUNES__SECRETS_KEY"].replace(",", " ").split() if key]
    try:
        from cryptography.fernet import Fernet
    except ImportError:  # pragma: no cover - installed with the extension
        Fernet = None
    for key in keys:
        if Fernet is not None:
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                fail("CKANEXT__COMMUNES__SECRETS_KEY is not a Fernet key (44 characters of URL-safe base64): "
                     "generate one with `ckan communes secrets generate-key` (see docker/.env.example).")
    plugins = environ["CKAN__PLUGINS"].split()
    for plugin in REQUIRED_PLUGINS:
        if plugin not in plugins:
            fail(f"CKAN__PLUGINS does not list {plugin!r}: copy the list of docker/.env.example.")
    url = urllib.parse.urlsplit(environ["CKAN_SQLALCHEMY_URL"])
    if url.scheme.startswith("postgres") and not url.password:
        fail("CKAN_SQLALCHEMY_URL has no password: set CKAN_DB_PASSWORD in docker/.env.")


def ini_value(value: str) -> str:
    # CKAN reads its ini with interpolation: a literal % is written %%.
    return value.replace("%", "%%")


def print_options(environ: dict[str, str]) -> None:
    print("[app:main]")
    for name, value in options(environ).items():
        print(f"{name} = {ini_value(value)}")


def _postgres(url: str) -> None:
    import psycopg2

    # SQLAlchemy's URL with a driver name ("postgresql+psycopg2://") is not libpq's.
    scheme, rest = url.split("://", 1)
    psycopg2.connect(scheme.split("+")[0] + "://" + rest, connect_timeout=5).close()


def _solr(url: str) -> None:
    with urllib.request.urlopen(url.rstrip("/") + "/admin/ping?wt=json", timeout=5) as response:
        response.read()


def _redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()


def wait(environ: dict[str, str]) -> None:
    timeout = float(environ.get("CKAN_WAIT_TIMEOUT") or 120)
    services = [("PostgreSQL", "CKAN_SQLALCHEMY_URL", _postgres), ("Solr", "CKAN_SOLR_URL", _solr),
                ("Redis", "CKAN_REDIS_URL", _redis)]
    deadline = time.monotonic() + timeout
    for label, variable, probe in services:
        said = False
        while True:
            try:
                probe(environ[variable])
                break
            except Exception as error:  # noqa: BLE001 - any failure means "not yet"
                if time.monotonic() > deadline:
                    host = urllib.parse.urlsplit(environ[variable]).hostname
                    fail(f"{label} ({variable}, host {host}) did not answer within {timeout:.0f} s: {error}")
                if not said:
                    print(f"entrypoint: waiting for {label}...", file=sys.stderr)
                    said = True
                time.sleep(2)


def main(argv: list[str]) -> None:
    commands = {"check": check, "options": print_options, "wait": wait}
    if len(argv) != 2 or argv[1] not in commands:
        fail(f"usage: {argv[0]} {'|'.join(commands)}")
    commands[argv[1]](dict(os.environ))


if __name__ == "__main__":
    main(sys.argv)
