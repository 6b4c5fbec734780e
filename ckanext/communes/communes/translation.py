"""Translation helpers shared by the communes modules."""

from __future__ import annotations

import ckan.plugins.toolkit as tk


def N_(text: str) -> str:  # noqa: N802 (Babel's conventional name, extracted as a msgid)
    """Marks a msgid for extraction; translated later, when shown."""
    return text


def gettext(text: str) -> str:
    """tk._ that also works outside an app context (named gettext so that msgids are extracted)."""
    # Outside a Flask app context (plain scripts) there is no translator: keep the English text.
    try:
        return tk._(text)
    except (RuntimeError, KeyError, AttributeError):
        return text


def ngettext(singular: str, plural: str, count: int) -> str:
    """tk.ungettext, with the same fallback as :func:`gettext` (English singular or plural)."""
    try:
        return tk.ungettext(singular, plural, count)
    except (RuntimeError, KeyError, AttributeError):
        return singular if count == 1 else plural
