"""docker/ without Docker: the start-up every container runs (docker/entrypoint.sh) run for real against the
local stack, with a configuration file made the way the base image makes its own and the environment of
docker/.env.example; and docker/ read: the Dockerfile, the compose file, what is kept out of git and the image.

No Docker engine here: what cannot be run is read (the image's web server, uwsgi, is replaced by `ckan run`)."""

from __future__ import annotations

import fnmatch
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import click
import pytest
import requests
import sqlalchemy as sa
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
COMPOSE = DOCKER / "docker-compose.yml"
IMAGE_INI = "/srv/app/ckan.ini"  # the base image's CKAN_INI
BIN = pathlib.Path(sys.executable).parent
EXPECTED_PLUGINS = ["communes", "scheming_datasets", "scheming_organizations", "dcat", "harvest",
                    "communes_dcat_harvester", "communes_ckan_harvester", "communes_ods_harvester",
                    "communes_udata_harvester", "communes_csw_harvester", "activity", "datastore", "xloader"]
# The secrets a container must refuse to start without.
SECRETS = ["CKAN_SECRET_KEY", "CKANEXT__COMMUNES__SECRETS_KEY", "CKAN_SYSADMIN_PASSWORD"]


# --- reading docker/ --------------------------------------------------------------------------------------

def env_example() -> dict[str, str]:
    values = {}
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value
    return values


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def ckan_services() -> dict[str, dict[str, Any]]:
    """The services built from our CKAN image (web and workers); not the Solr image we also build."""
    return {name: service for name, service in compose()["services"].items()
            if (service.get("build") or {}).get("dockerfile") == "docker/Dockerfile"
            or str(service.get("image", "")).startswith("ckanext-communes/ckan")}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} from the --env-file (here .env.example)."""
    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return variables.get(name) or default
    return re.sub(r"\$\{(\w+)(:?-([^}]*))?\}", one, value)


def service_command(name: str) -> list[str]:
    command = ckan_services()[name].get("command")
    assert isinstance(command, list) and command, f"{name}: the command must be a list (no shell)"
    return [interpolate(str(part), env_example()) for part in command]


def worker_services() -> list[str]:
    return [name for name in ckan_services() if name != "ckan"]


def test_the_image_is_built_on_ckan_base_2_12_0_and_its_files_belong_to_the_ckan_sys_group():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM ckan/ckan-base:2\.12\.0\s*$", dockerfile, re.M), "pin the base image to 2.12.0"
    chowns = re.findall(r"chown\s+(?:-R\s+)?(\S+)", dockerfile) + re.findall(r"--chown=(\S+)", dockerfile)
    # The base image's users: ckan and ckan-sys, both in the group ckan-sys; there is no group ckan.
    assert chowns and all(owner.split(":")[1:] in ([], ["ckan-sys"]) for owner in chowns), chowns


def test_every_container_runs_our_entrypoint_and_not_the_base_images_start_up():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"\]', dockerfile, re.M)
    assert entry, "the Dockerfile must name our entrypoint"
    source = re.search(r"^COPY \. (\S+)$", dockerfile, re.M)
    assert source, "the repository is copied into the image"
    app_dir = source.group(1).replace("${APP_DIR}", "/srv/app")
    assert entry.group(1) == f"{app_dir}/docker/entrypoint.sh"
    assert os.access(ENTRYPOINT, os.X_OK)
    assert "/docker-entrypoint.d" not in dockerfile  # the base image's hooks are not ours to rely on
    for name, service in ckan_services().items():
        assert "entrypoint" not in service, f"{name} replaces the entrypoint"


def test_every_service_command_exists_in_the_cli_with_its_options():
    from ckan.cli.cli import ckan as ckan_cli
    from ckan.plugins import PluginImplementations
    from ckan.plugins.interfaces import IClick

    roots: dict[str, click.Command] = dict(ckan_cli.commands)
    for plugin in PluginImplementations(IClick):
        roots.update({command.name: command for command in plugin.get_commands()})
    for name in worker_services():
        command = service_command(name)
        assert command[:3] == ["ckan", "-c", IMAGE_INI], f"{name}: {command}"
        words, found = command[3:], roots.get(command[3])
        assert found is not None, f"{name}: no command `ckan {words[0]}`"
        rest = words[1:]
        while isinstance(found, click.Group):
            sub = found.get_command(click.Context(found), rest[0])
            assert sub is not None, f"{name}: no command `{rest[0]}` under `{found.name}`"
            found, rest = sub, rest[1:]
        found.make_context(found.name, list(rest))  # its options parse (click raises otherwise)
    web = service_command("ckan")
    assert web[0] == "uwsgi" and "--die-on-term" in web, web  # uwsgi reloads on SIGTERM without it
    assert "/srv/app/wsgi.py" in web  # the base image's WSGI file


def test_workers_start_once_ckan_is_healthy_and_its_healthcheck_runs_a_command_the_image_has():
    services = ckan_services()
    check = services["ckan"]["healthcheck"]
    assert check["test"][0] == "CMD" and check["test"][1] in {"python3", "curl"}, check["test"]
    assert "status_show" in " ".join(check["test"])
    assert check.get("start_period"), "the first start migrates and seeds: give it a start period"
    for name in worker_services():
        depends = services[name].get("depends_on")
        assert isinstance(depends, dict) and depends.get("ckan") == {"condition": "service_healthy"}, name
    for name in ("db", "solr", "redis"):
        assert compose()["services"][name].get("healthcheck"), name


def test_exactly_one_periodic_runner_and_scalable_fetch_and_jobs_workers():
    services = ckan_services()
    periodic = [name for name in services if "run-periodic" in (services[name].get("command") or [])]
    assert len(periodic) == 1, periodic
    assert services[periodic[0]].get("deploy", {}).get("replicas", 1) == 1
    commands = {name: " ".join(map(str, services[name].get("command") or [])) for name in services}
    fetchers = [name for name, line in commands.items() if "fetch-worker" in line]
    assert len(fetchers) == 1, fetchers
    # The jobs workers as make run starts them (dev/run.sh): one on every queue, an editor's saves first,
    # one on the harvests' quality queue only (a backlog is shared by both).
    jobs_workers = {name: line.split("jobs worker ", 1)[1] for name, line in commands.items() if "jobs worker" in line}
    assert sorted(jobs_workers.values()) == ["communes_quality default communes_quality_bulk",
                                             "communes_quality_bulk"], jobs_workers
    for name in [*fetchers, *jobs_workers]:
        service = services[name]
        # --scale refuses a fixed container name, and several replicas cannot publish one host port.
        assert "container_name" not in service and "ports" not in service, name


def test_every_variable_the_entrypoint_requires_is_in_env_example_or_set_by_compose():
    result = subprocess.run(["sh", str(ENTRYPOINT), "true"], env={"PATH": os.environ["PATH"]},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    required = re.findall(r"ERROR: (\w+) is missing or empty", result.stderr)
    assert set(SECRETS) <= set(required), result.stderr
    set_by_compose = set(compose()["x-ckan"].get("environment") or {})
    for name in required:
        assert name in env_example() or name in set_by_compose, name


def test_docker_env_is_ignored_by_git_and_kept_out_of_the_image():
    if (REPO / ".git").exists():
        subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO, check=True)
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    ignored = False
    for pattern in patterns:  # Docker's rule: the last matching line wins
        negated = pattern.startswith("!")
        if fnmatch.fnmatch("docker/.env", pattern.lstrip("!").lstrip("/")):
            ignored = not negated
    assert ignored, patterns


# --- running the entrypoint against the local stack ---------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_image_ini(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """/srv/app/ckan.ini as ckan/ckan-base:2.12.0 builds it: generated, SECRET_KEY emptied, its own plugins."""
    path = tmp_path_factory.mktemp("image") / "ckan.ini"
    ckan = str(BIN / "ckan")
    subprocess.run([ckan, "generate", "config", str(path)], check=True, capture_output=True)
    subprocess.run([ckan, "config-tool", str(path), "SECRET_KEY = ",
                    "ckan.plugins = image_view text_view datatables_view datastore envvars"],
                   check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """An empty database on the test stack's PostgreSQL: a first start, with all its migrations."""
    from ckan.common import config

    url = sa.engine.make_url(config["sqlalchemy.url"])
    name = "ckan_docker_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(url.set(username="postgres", password=None, database="postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{url.username}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def container_env(ckan_config: Any, database_url: str, ini: pathlib.Path, **overrides: str) -> dict[str, str]:
    """docker/.env.example plus what compose adds, pointed at the local stack; secrets filled in as an
    operator would (the example leaves them empty)."""
    from cryptography.fernet import Fernet

    redis_url = sa.engine.make_url(ckan_config["ckan.redis.url"].replace("redis://", "postgresql://"))
    env = {**env_example(),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(ini.parent), "LC_ALL": "C.UTF-8",
           "CKAN_INI": str(ini), "CKAN_STORAGE_PATH": str(ini.parent / "storage"),
           "CKAN_SQLALCHEMY_URL": database_url, "CKAN_SOLR_URL": ckan_config["solr_url"],
           "CKAN_REDIS_URL": ckan_config["ckan.redis.url"],
           # What compose sets from CKAN_DATASTORE_* (the test stack's DataStore database and read-only user:
           # the start-up finds them and applies CKAN's permissions again).
           "CKAN_DATASTORE_WRITE_URL": ckan_config["ckan.datastore.write_url"],
           "CKAN_DATASTORE_READ_URL": ckan_config["ckan.datastore.read_url"],
           "CKAN__HARVEST__MQ__HOSTNAME": redis_url.host, "CKAN__HARVEST__MQ__PORT": str(redis_url.port),
           "CKAN_SECRET_KEY": secrets.token_urlsafe(32),
           "CKANEXT__COMMUNES__SECRETS_KEY": Fernet.generate_key().decode(),
           "CKAN_SYSADMIN_PASSWORD": secrets.token_urlsafe(12),
           "CKAN_WAIT_TIMEOUT": "30"}
    env.update(overrides)
    return env


def container_ini(base_image_ini: pathlib.Path, tmp_path: pathlib.Path, role: str) -> pathlib.Path:
    """Each container has its own copy of the image's ini."""
    (tmp_path / role).mkdir()
    return pathlib.Path(shutil.copy(base_image_ini, tmp_path / role / "ckan.ini"))


class Container:
    """The entrypoint running a command, its output read as it comes (a thread: a pipe left unread fills)."""

    def __init__(self, command: list[str], env: dict[str, str], ini: pathlib.Path) -> None:
        command = [str(ini) if part == IMAGE_INI else part for part in command]
        self.process = subprocess.Popen(["sh", str(ENTRYPOINT), *command], env=env, cwd=ini.parent, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in list(self.lines)):
                return
            if self.process.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.5)
        raise AssertionError(f"no line matching {pattern!r}:\n" + self.output[-6000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.reader.join(10)
        return self.process.returncode, self.output


def run(command: list[str], env: dict[str, str], ini: pathlib.Path, timeout: float = 60) -> tuple[int, str]:
    return Container(command, env, ini).finish(timeout)


def test_web_and_every_worker_start_together_on_an_empty_database_which_one_of_them_migrates(
        base_image_ini: pathlib.Path, fresh_database: str, tmp_path: pathlib.Path, ckan_config: Any):
    """What `docker compose up` does, minus Docker: every role's container starts at once on a first
    start; one migrates under the lock, the others wait for it; all come up."""
    port = _free_port()
    roles: dict[str, tuple[list[str], str]] = {
        # uwsgi is not installed here: the same application under CKAN's own server.
        "ckan": (["ckan", "-c", IMAGE_INI, "run", "-H", "127.0.0.1", "-p", str(port), "-r"], ""),
    }
    # Each worker's own command from the compose file; the one-round modes where the command has one.
    for name in worker_services():
        command = service_command(name)
        if "run-periodic" in command:
            roles[name] = (command + ["--once"], "")
        elif command[3:5] == ["jobs", "worker"]:
            roles[name] = (command + ["--burst"], "")
        else:
            roles[name] = (command, r"consuming")
    containers = {}
    for role, (command, _) in roles.items():
        ini = container_ini(base_image_ini, tmp_path, role)
        env = container_env(ckan_config, fresh_database, ini, CKAN_SITE_URL=f"http://127.0.0.1:{port}")
        containers[role] = Container(command, env, ini)
    outputs: dict[str, str] = {}
    try:
        # The web: status_show over HTTP lists our plugins.
        containers["ckan"].wait_for_line(r"entrypoint: starting", 240)
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and status is None:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/api/3/action/status_show", timeout=5).json()
            except requests.RequestException:
                assert containers["ckan"].process.poll() is None, containers["ckan"].output[-6000:]
                time.sleep(1)
        assert status is not None and status["success"], status
        assert set(EXPECTED_PLUGINS) <= set(status["result"]["extensions"]), status["result"]["extensions"]
        assert "image_view" not in status["result"]["extensions"]  # the base image's list is gone
        for role, (_, ready) in roles.items():
            if role == "ckan":
                continue
            if ready:  # a long-running worker: up, then stopped cleanly
                containers[role].wait_for_line(ready, 240)
                containers[role].stop()
            code, outputs[role] = containers[role].finish(240)
            assert code == 0, f"{role}:\n{outputs[role][-4000:]}"
    finally:
        for container in containers.values():
            container.stop()
        for role, container in containers.items():
            outputs.setdefault(role, container.finish(30)[1])
    migrated = [role for role, out in outputs.items() if "startup: migrations applied" in out]
    assert len(migrated) == 1, {role: out[-2000:] for role, out in outputs.items()}
    # Each container's own ini got the DataStore loader's API token (its datastore plugin loaded: the start-up
    # had set up its database).
    assert all("startup: xloader API token created" in out for out in outputs.values()), outputs
    engine = sa.create_engine(fresh_database)
    try:
        with engine.connect() as connection:
            sysadmin = connection.execute(sa.text('SELECT sysadmin FROM "user" WHERE name = :name'),
                                          {"name": env_example()["CKAN_SYSADMIN_NAME"]}).scalar()
            organisations = connection.execute(sa.text(
                "SELECT count(*) FROM \"group\" WHERE is_organization AND state = 'active'")).scalar()
    finally:
        engine.dispose()
    assert sysadmin is True
    assert organisations >= 59  # the Métropole and its communes, seeded once


def test_a_second_start_changes_nothing(base_image_ini: pathlib.Path, fresh_database: str,
                                        tmp_path: pathlib.Path, ckan_config: Any):
    """The container restarts: nothing to migrate, the sysadmin and the communes kept; the command runs."""
    ini = container_ini(base_image_ini, tmp_path, "again")
    env = container_env(ckan_config, fresh_database, ini)
    code, out = run(["ckan", "-c", IMAGE_INI, "communes", "harvest", "run-periodic", "--once"], env, ini, 240)
    assert code == 0, out[-4000:]
    assert "startup: database up to date" in out, out[-4000:]


def test_the_example_environment_as_it_is_is_refused_naming_each_empty_secret(
        base_image_ini: pathlib.Path, tmp_path: pathlib.Path, ckan_config: Any):
    ini = container_ini(base_image_ini, tmp_path, "example")
    env = container_env(ckan_config, "postgresql://unused", ini)
    env.update({name: value for name, value in env_example().items() if name in SECRETS})
    marker = tmp_path / "ran"
    code, out = run(["touch", str(marker)], env, ini)
    assert code != 0 and not marker.exists()
    for name in SECRETS:
        assert env_example().get(name, "") == "", f"{name} must be empty in the example"
        assert f"ERROR: {name} is missing or empty" in out, out


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("value", ["", "   "])
def test_a_container_refuses_to_start_without_a_secret(secret: str, value: str, base_image_ini: pathlib.Path,
                                                       tmp_path: pathlib.Path, ckan_config: Any):
    ini = container_ini(base_image_ini, tmp_path, "secret")
    env = container_env(ckan_config, "postgresql://unused", ini, **{secret: value})
    marker = tmp_path / "ran"
    code, out = run(["touch", str(marker)], env, ini)
    assert code != 0 and not marker.exists()
    assert f"ERROR: {secret} is missing or empty" in out, out
    assert "docker/.env" in out  # where to set it


def test_an_invalid_key_for_the_stored_passwords_is_refused(base_image_ini: pathlib.Path, tmp_path: pathlib.Path,
                                                            ckan_config: Any):
    ini = container_ini(base_image_ini, tmp_path, "badkey")
    env = container_env(ckan_config, "postgresql://unused", ini, CKANEXT__COMMUNES__SECRETS_KEY="change-me")
    code, out = run(["true"], env, ini)
    assert code != 0
    assert "CKANEXT__COMMUNES__SECRETS_KEY" in out and "Fernet" in out, out
