"""`ckan communes seed`: creates the Métropole and the 58 communes, idempotent, respects operator edits."""

from __future__ import annotations

import json
import time

import pytest

from ckan.tests import helpers

from ckanext.communes.communes import registry, seeding

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


def test_seed_creates_the_metropole_and_58_communes_then_second_run_changes_nothing(cli, ckan_config):
    started = time.monotonic()
    first = cli.invoke(__import__("ckan.cli.cli", fromlist=["ckan"]).ckan, ["communes", "seed"])
    elapsed = time.monotonic() - started
    assert first.exit_code == 0, first.output
    assert "created: 59, updated: 0, unchanged: 0" in first.output
    print(f"seed took {elapsed:.2f}s")
    second = cli.invoke(__import__("ckan.cli.cli", fromlist=["ckan"]).ckan, ["communes", "seed"])
    assert second.exit_code == 0, second.output
    assert "created: 0, updated: 0, unchanged: 59" in second.output
    orgs = helpers.call_action("organization_list", all_fields=False, limit=1000)
    assert len(orgs) == 59
    assert {"bron", "lyon", "oullins-pierre-benite", "metropole-de-lyon"} <= set(orgs)
