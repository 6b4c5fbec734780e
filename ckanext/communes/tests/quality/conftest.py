"""Fixtures of the quality tests: the harvest tests' real HTTP server on 127.0.0.1 (and the switch that lets
our guarded client reach it), and the commune fixtures of the schema tests."""

from __future__ import annotations

from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - fixtures re-exported
    _source_server_instance,
    allow_private_addresses,
    source_server,
)
from ckanext.communes.tests.schema.conftest import bron, bron_editor, sysadmin  # noqa: F401
