"""Helpers of docker/entrypoint.sh that run before CKAN can load (no CKAN import here):

    startup.py check     refuse what cannot work: a key for the stored passwords that is not a Fernet key,
                         a plugin list without ours, a database URL without a password
    startup.py options   the environment's options as an ini to merge (`ckan config-tool INI -f FILE`)
    startup.py wait      wait for PostgreSQL, Solr and Redis (CKAN_WAIT_TIMEOUT seconds, 120 by default)
    startup.py datastore when the datastore plugin is listed: its database and read-only user created if
                         missing, CKAN's permissions script (`ckan datastore set-permissions`) applied;
                         before CKAN loads, whose datastore plugin refuses to start without them

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


# pg_advisory_lock's key for the DataStore set-up (containers start together).
DATASTORE_LOCK = 727_210_002


def _libpq(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return scheme.split("+")[0] + "://" + rest


def datastore(environ: dict[str, str]) -> None:
    """The DataStore's database and read-only user (created with the main URL's user, the image's
    superuser), then CKAN's permissions script run as the write user, which owns that database. Idempotent."""
    if "datastore" not in environ.get("CKAN__PLUGINS", "").split():
        return
    write_url, read_url = environ.get("CKAN_DATASTORE_WRITE_URL", ""), environ.get("CKAN_DATASTORE_READ_URL", "")
    if not write_url.strip() or not read_url.strip():
        fail("CKAN__PLUGINS lists datastore but CKAN_DATASTORE_WRITE_URL or CKAN_DATASTORE_READ_URL is empty: "
             "docker/docker-compose.yml sets them from CKAN_DATASTORE_* of docker/.env.")
    import psycopg2
    from psycopg2 import errors, sql

    main, write, read = (urllib.parse.urlsplit(u) for u in (environ["CKAN_SQLALCHEMY_URL"], write_url, read_url))
    if not read.password:
        fail("CKAN_DATASTORE_READ_URL has no password: set CKAN_DATASTORE_RO_PASSWORD in docker/.env.")
    main_db, store_db = main.path.lstrip("/"), write.path.lstrip("/")
    if store_db == main_db or read.username == write.username:
        fail("the DataStore needs a database of its own and a read-only user other than the writer "
             "(CKAN_DATASTORE_DB, CKAN_DATASTORE_RO_USER in docker/.env).")
    admin = psycopg2.connect(_libpq(environ["CKAN_SQLALCHEMY_URL"]), connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (DATASTORE_LOCK,))
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (read.username,))
            if cursor.fetchone() is None:
                with suppress_duplicate(errors):
                    cursor.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(read.username)),
                                   (urllib.parse.unquote(read.password),))
                print(f"entrypoint: DataStore read-only user {read.username} created", file=sys.stderr)
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (store_db,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(store_db), sql.Identifier(write.username)))
                print(f"entrypoint: DataStore database {store_db} created", file=sys.stderr)
            store = psycopg2.connect(_libpq(write_url), connect_timeout=10)
            try:
                with store, store.cursor() as store_cursor:
                    store_cursor.execute(_permissions_sql(main_db, store_db, main.username, write.username,
                                                          read.username))
                    # CKAN's script takes CONNECT on the main database from the read-only user, but every role
                    # has it through PUBLIC.
                    store_cursor.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                        sql.Identifier(main_db)))
            finally:
                store.close()
            cursor.execute("SELECT pg_advisory_unlock(%s)", (DATASTORE_LOCK,))
    finally:
        admin.close()


class suppress_duplicate:  # noqa: N801 - used as a context manager, like contextlib.suppress
    """Another container created the role in between: fine."""

    def __init__(self, errors: object) -> None:
        self.types = (errors.DuplicateObject,)  # type: ignore[attr-defined]

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, traceback: object) -> bool:
        return kind is not None and issubclass(kind, self.types)  # type: ignore[arg-type]


def _permissions_sql(maindb: str, datastoredb: str, mainuser: str, writeuser: str, readuser: str) -> str:
    """CKAN's own script (`ckan datastore set-permissions`) without psql's \\connect (we are connected)."""
    from ckanext.datastore.cli import permissions_sql

    text = permissions_sql(maindb=maindb, datastoredb=datastoredb, mainuser=mainuser, writeuser=writeuser,
                           readuser=readuser)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("\\connect"))


def main(argv: list[str]) -> None:
    commands = {"check": check, "options": print_options, "wait": wait, "datastore": datastore}
    if len(argv) != 2 or argv[1] not in commands:
        fail(f"usage: {argv[0]} {'|'.join(commands)}")
    commands[argv[1]](dict(os.environ))


if __name__ == "__main__":
    main(sys.argv)
