"""Build the French catalogue: extract msgids from the code, keep the translations already in
the .po, add new ones given in dev/i18n/*.tsv (msgid<TAB>msgstr, or singular<TAB>plural<TAB>msgstr[0]<TAB>
msgstr[1] for a plural; a convenient way to hand in a batch: merge them and delete the file), write the
.po and compile the .mo.

    .venv/bin/python dev/i18n_build.py          build
    .venv/bin/python dev/i18n_build.py --check  exit 1 if a msgid has no French translation
"""

from __future__ import annotations

import io
import pathlib
import sys

from babel.messages import frontend, mofile, pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ckanext" / "communes"
I18N = PACKAGE / "i18n"
PO = I18N / "fr" / "LC_MESSAGES" / "ckanext-communes.po"
MO = PO.with_suffix(".mo")
TSV_DIRS = [ROOT / "dev" / "i18n"]
# French for extensions we run but which ship none (ckanext-harvest): CKAN merges every plugin's
# catalogue into one, so carrying them in ours translates their pages too. Kept as .po files (plurals).
THIRD_PARTY = ROOT / "dev" / "i18n" / "third-party"
METHODS = [
    ("**/tests/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "ckan.lib.extract:extract_ckan"),
]
KEYWORDS = {**frontend.DEFAULT_KEYWORDS, "translate": None}


Message = str | tuple[str, ...]  # a msgid or msgstr; a tuple for a plural


def tsv_translations() -> dict[Message, Message]:
    found: dict[Message, Message] = {}
    for folder in TSV_DIRS:
        for tsv in sorted(folder.glob("*.tsv")) if folder.exists() else []:
            for line in tsv.read_text(encoding="utf-8").splitlines():
                if "\t" in line and not line.startswith("#"):
                    fields = [field.replace("\\n", "\n") for field in line.split("\t")]
                    if len(fields) == 4:  # singular, plural, msgstr[0], msgstr[1]
                        found[tuple(fields[:2])] = tuple(fields[2:])
                    else:
                        found[fields[0]] = "\t".join(fields[1:])
    return found


def build() -> Catalog:
    previous: dict[Message, Message] = {}
    if PO.exists():
        with PO.open("rb") as f:
            for message in pofile.read_po(f):
                if message.id and message.string and all(message.string):
                    previous[message.id if isinstance(message.id, str) else tuple(message.id)] = (
                        message.string if isinstance(message.string, str) else tuple(message.string))
    translations = {**previous, **tsv_translations()}
    catalog = Catalog(locale="fr", domain="ckanext-communes", project="ckanext-communes",
                      charset="utf-8", fuzzy=False)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        if isinstance(message, tuple):  # plural (ngettext): singular and plural, the context dropped
            message = tuple(message[:2])
        if not message or not message[0]:
            continue
        existing = catalog.get(message if isinstance(message, str) else message[0])
        location = (f"ckanext/communes/{filename}", lineno)
        if existing:
            existing.locations.append(location)
        else:
            empty = "" if isinstance(message, str) else ("", "")
            catalog.add(message, translations.get(message, empty), locations=[location])
    for po in sorted(THIRD_PARTY.glob("*.po")) if THIRD_PARTY.exists() else []:
        with po.open("rb") as f:
            for message in pofile.read_po(f):
                if message.id and not catalog.get(message.id if isinstance(message.id, str) else message.id[0]):
                    catalog.add(message.id, message.string, locations=[(f"dev/i18n/third-party/{po.name}", 0)])
    return catalog


def main() -> int:
    catalog = build()
    missing = [m.id for m in catalog if m.id and not (m.string and all(m.string))]
    if "--check" in sys.argv:
        for msgid in missing:
            print(f"untranslated: {msgid!r}")
        return 1 if missing else 0
    PO.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pofile.write_po(buf, catalog, width=100, sort_output=True)
    PO.write_bytes(buf.getvalue())
    buf = io.BytesIO()
    mofile.write_mo(buf, catalog)
    MO.write_bytes(buf.getvalue())
    print(f"{PO.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
