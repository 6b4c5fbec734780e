"""The French catalogue is complete and compiled: every msgid of the code has a translation."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from babel.messages import mofile, pofile

REPO = pathlib.Path(__file__).resolve().parents[3]
PO = REPO / "ckanext" / "communes" / "i18n" / "fr" / "LC_MESSAGES" / "ckanext-communes.po"


def test_every_message_of_the_code_has_a_french_translation():
    result = subprocess.run(
        [sys.executable, str(REPO / "dev" / "i18n_build.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_compiled_catalogue_matches_the_po_file():
    with PO.open("rb") as f:
        po = {m.id: m.string for m in pofile.read_po(f) if m.id}
    with PO.with_suffix(".mo").open("rb") as f:
        mo = {m.id: m.string for m in mofile.read_mo(f) if m.id}
    assert po and po == mo


def test_the_communes_page_is_served_in_french_by_default(app):
    body = app.get("/communes").body
    assert "Statut de partenaire" in body
    assert "Obligation légale" in body
    assert "Partner status" not in body
