"""Validators of the organisation schema (usable by name in scheming YAML). Errors are English msgids
translated to French by the extension's catalogue; scheming keys them on the field."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.navl.dictization_functions import missing

from ckanext.communes.communes import programme, registry

EMAIL_RE = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\".]{2,}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _text(value: Any) -> str:
    return "" if value is None or value is missing else str(value).strip()


def communes_insee_code(value: Any, context: dict[str, Any]) -> str:
    """A commune of the Métropole: 5-character COG code. Former codes (69152) and arrondissements
    (69381..69389) are replaced by the current commune's code, so harvested old codes still route."""
    code = re.sub(r"\s+", "", _text(value)).upper()
    if not code:
        return ""
    if not registry.INSEE_RE.match(code):
        raise tk.Invalid(tk._("An INSEE code has 5 characters (for example 69029)."))
    commune = registry.get_commune(code)
    if commune is None or not registry.is_metropole_insee(code):
        raise tk.Invalid(tk._("The INSEE code {code} is not a commune of the Métropole de Lyon.").format(code=code))
    # One organisation per commune.
    group = context.get("group")
    other = programme.org_by_extra("insee_code", commune.insee)
    if other is not None and (group is None or other.id != group.id):
        raise tk.Invalid(
            tk._("The commune {code} already has an organisation: {name}.").format(code=commune.insee, name=other.name)
        )
    return commune.insee


def communes_siren(value: Any, context: dict[str, Any]) -> str:
    siren = re.sub(r"[\s.]+", "", _text(value))
    if not siren:
        return ""
    if not registry.SIREN_RE.match(siren):
        raise tk.Invalid(tk._("A SIREN number has 9 digits."))
    if not registry.siren_checksum_ok(siren):
        raise tk.Invalid(tk._("This SIREN number is invalid (wrong check digit)."))
    return siren


def communes_kind(value: Any, context: dict[str, Any]) -> str:
    kind = _text(value)
    if kind and kind not in programme.KINDS:
        raise tk.Invalid(tk._("Unknown kind: use commune or metropole."))
    return kind


def communes_partner_status(value: Any, context: dict[str, Any]) -> str:
    status = _text(value)
    if status and status not in programme.PARTNER_STATUSES:
        raise tk.Invalid(
            tk._("Unknown partner status {status}: use one of {choices}.").format(
                status=status, choices=", ".join(programme.PARTNER_STATUSES))
        )
    return status


def communes_positive_integer(value: Any, context: dict[str, Any]) -> str:
    text = _text(value).replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    if not text:
        return ""
    # More than 9 digits is no commune's population; int() of a 5,000-digit string raises (Python's
    # integer string conversion limit), so the length is checked first.
    if not re.fullmatch(r"\+?\d{1,9}", text) or int(text) <= 0:
        raise tk.Invalid(tk._("Enter a positive whole number."))
    return str(int(text))


def communes_year(value: Any, context: dict[str, Any]) -> str:
    text = _text(value)
    if not text:
        return ""
    if not re.fullmatch(r"\d{4}", text) or not 1800 <= int(text) <= datetime.date.today().year + 1:
        raise tk.Invalid(tk._("Enter a year with 4 digits."))
    return text


MAX_AGENTS_FTE = Decimal(1_000_000)


def communes_agents_fte(value: Any, context: dict[str, Any]) -> str:
    """Full-time equivalent: a decimal number (comma or point) of zero or more."""
    text = _text(value).replace(",", ".").replace(" ", "")
    if not text:
        return ""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    # No commune employs a million agents; the bound also keeps "1e1000000" from being expanded.
    if number is None or not number.is_finite() or number < 0 or number >= MAX_AGENTS_FTE:
        raise tk.Invalid(tk._("Enter a number of agents (full-time equivalent) of zero or more."))
    return programme.normalise_value(number)


def communes_iso_date(value: Any, context: dict[str, Any]) -> str:
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = _text(value)
    if not text:
        return ""
    try:
        return datetime.date.fromisoformat(text[:10] if "T" in text else text).isoformat()
    except ValueError:
        raise tk.Invalid(tk._("Enter a date as YYYY-MM-DD.")) from None


def communes_email(value: Any, context: dict[str, Any]) -> str:
    email = _text(value)
    if email and not EMAIL_RE.match(email):
        raise tk.Invalid(tk._("Enter a valid e-mail address (for example nom@commune.fr)."))
    return email


def communes_url(value: Any, context: dict[str, Any]) -> str:
    url = _text(value)
    if url and not URL_RE.match(url):
        raise tk.Invalid(tk._("Enter a web address starting with http:// or https://."))
    return url


def _flat_value(data: dict[Any, Any], name: str) -> Any:
    value = data.get((name,), missing)
    return None if value is missing else value


def communes_convention_dates(key: Any, data: dict[Any, Any], errors: dict[Any, Any], context: dict[str, Any]) -> None:
    """Schema-level (before) validator: the convention ends one year after signature unless an end is
    given, and never before it is signed."""
    signed_raw, end_raw = _flat_value(data, "convention_signed"), _flat_value(data, "convention_end")
    try:
        signed = communes_iso_date(signed_raw, context) if signed_raw is not None else ""
        end = communes_iso_date(end_raw, context) if end_raw is not None else ""
    except tk.Invalid:
        return  # the field validators report the bad date on its own field
    if signed and not end:
        data[("convention_end",)] = programme.default_convention_end(
            datetime.date.fromisoformat(signed)).isoformat()
    elif signed and end and end < signed:
        errors.setdefault(("convention_end",), []).append(
            tk._("The convention cannot end before it is signed ({signed}).").format(signed=signed)
        )


def get_validators() -> dict[str, Any]:
    return {
        "communes_insee_code": communes_insee_code,
        "communes_siren": communes_siren,
        "communes_kind": communes_kind,
        "communes_partner_status": communes_partner_status,
        "communes_positive_integer": communes_positive_integer,
        "communes_year": communes_year,
        "communes_agents_fte": communes_agents_fte,
        "communes_iso_date": communes_iso_date,
        "communes_email": communes_email,
        "communes_url": communes_url,
        "communes_convention_dates": communes_convention_dates,
    }

