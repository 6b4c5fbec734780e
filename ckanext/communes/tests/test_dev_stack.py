"""The development stack fails fast and loudly on a broken Solr core instead of hanging."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_solr_with_a_core_missing_its_schema_fails_at_once_naming_the_file(tmp_path):
    home = tmp_path / "solr-home"
    core = home / "broken" / "conf"
    core.mkdir(parents=True)
    (home / "solr.xml").write_text("<solr></solr>")
    (home / "broken" / "core.properties").write_text("name=broken\n")
    shutil.copy(REPO / "dev" / "solr" / "conf" / "solrconfig.xml", core / "solrconfig.xml")
    # no schema.xml: the core cannot load
    env = {
        **os.environ,
        "CKAN_DEV_SOLR_HOME": str(home),
        "CKAN_DEV_SOLR_PORT": str(_free_port()),
        "CKAN_DEV_SOLR_CORES": "broken",
        "CKAN_DEV_RUN_DIR": str(tmp_path / "run"),
    }
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(REPO / "dev" / "stack.sh"), "solr-up"], env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "SOLR CORE FAILED: broken" in result.stderr
    assert "schema.xml" in result.stderr
    assert elapsed < 60, f"took {elapsed:.0f}s: a broken core must fail at once, not after the 120 s wait"
    assert not (tmp_path / "run" / "solr.pid").exists()


def test_bench_refuses_to_wipe_a_database_whose_name_does_not_end_in_test(tmp_path):
    """make bench wipes the database it is pointed at: a real portal's (ckan_dev here) is refused before
    anything is touched."""
    import sys

    env = dict(os.environ)
    test_url = env.get("CKAN_SQLALCHEMY_URL", "postgresql://ckan_default:pass@127.0.0.1:5433/ckan_test")
    env["CKAN_SQLALCHEMY_URL"] = test_url.rsplit("/", 1)[0] + "/ckan_dev"
    result = subprocess.run(
        [sys.executable, str(REPO / "dev" / "bench" / "schema_and_catalogue.py"), "--ckan-ini",
         str(REPO / "test.ini"), "--create", "1", "--datasets", "1"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Refusing to wipe database 'ckan_dev'" in result.stderr
    assert "WARNING: wiping" not in result.stdout
