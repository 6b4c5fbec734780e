"""Translation helpers of the shared base: msgid marking, gettext that also works outside a request, and
French number formatting (used by every room's messages and by the web guards)."""

from __future__ import annotations

from typing import Any

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


def french_number(value: Any) -> str:
    """A whole number with French thousand separators (narrow no-break space), one decimal otherwise."""
    if value in (None, ""):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"
    return text.replace(",", "\u202f").replace(".", ",")


def gettext_in_default_locale(text: str) -> str:
    """``text`` in the portal's language (``ckan.locale_default``), whoever asks: for what is stored once and
    shown to every reader (the title of a view made by a harvest worker or an API call, which has no reader's
    language). Within a request CKAN's merged catalogue answers; outside one, our own catalogue."""
    import flask
    import flask_babel

    locale = tk.config.get("ckan.locale_default") or "en"
    if flask.has_request_context():
        with flask_babel.force_locale(locale):
            return tk._(text)
    import os

    from babel.support import Translations

    translations = Translations.load(os.path.join(os.path.dirname(__file__), "i18n"), [locale],
                                     domain="ckanext-communes")
    return translations.gettext(text)
