"""The licence registry (data file), its normaliser and the licence policy."""

from __future__ import annotations

import os

# The file CKAN loads as its licence list (CKAN's licence JSON format, with our extra keys).
CKAN_LICENCES_FILE = os.path.join(os.path.dirname(__file__), "data", "licences.json")
