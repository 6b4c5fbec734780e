"""The licence policy (CRPA art. L323-2 and D323-2-1) and the compliance of a dataset's licence.

``ckanext.communes.licence_policy``:
- enforce (default): a licence not listed for data by D323-2-1 is refused with a field error;
- warn: it is saved, and flagged by ``licence_compliance``;
- off: it is saved (and still flagged: the flag is a fact, not a sanction).
Whatever the mode, datasets arriving by harvest are never refused for their licence (they
describe what the source publishes): they are saved and flagged.
"""

from __future__ import annotations

import csv
import functools
import logging
import os
from typing import Any, Literal

import ckan.plugins.toolkit as tk

from ckanext.communes.licences.normalise import normalize_licence
from ckanext.communes.licences.registry import NOT_SPECIFIED_ID, UNRECOGNISED_ID, Licence

log = logging.getLogger(__name__)

POLICY_OPTION = "ckanext.communes.licence_policy"
POLICY_MODES = ("enforce", "warn", "off")
DEFAULT_POLICY = "enforce"

# Context flag our harvesting code sets. The API builds its context server-side, so no caller can set it.
HARVEST_CONTEXT_FLAG = "communes_harvest"
# ckanext-harvest's own harvesters act as a sysadmin named "harvest" when one exists, else as the
# site user (named after ckan.site_id): recognised only when that account IS a sysadmin.
HARVEST_USER_NAME = "harvest"

Compliance = Literal["authorised", "open_not_listed", "not_open", "unspecified", "unknown"]
COMPLIANCE_VALUES: tuple[Compliance, ...] = ("authorised", "open_not_listed", "not_open", "unspecified", "unknown")


def licence_policy() -> str:
    """The configured mode; an invalid value falls back to enforce (the safe side), logged."""
    mode = (tk.config.get(POLICY_OPTION) or DEFAULT_POLICY).strip().lower()
    if mode not in POLICY_MODES:
        log.warning("%s=%r is not one of %s: using %s", POLICY_OPTION, mode, POLICY_MODES, DEFAULT_POLICY)
        return DEFAULT_POLICY
    return mode


def is_harvest(context: dict[str, Any]) -> bool:
    """Whether the action runs for a harvester: our harvesting code sets the context flag
    ``communes_harvest``; ckanext-harvest's harvesters (and ckanext-dcat's RDF harvester) act as the
    site user or as a sysadmin named "harvest". A name alone proves nothing (anyone may register
    the site id as a user name): the account must be a sysadmin."""
    if context.get(HARVEST_CONTEXT_FLAG):
        return True
    user = context.get("user")
    if not user or user not in (tk.config.get("ckan.site_id"), HARVEST_USER_NAME):
        return False
    from ckan import model

    account = model.User.get(user)
    return bool(account and account.sysadmin and account.state == "active")


def compliance_of(licence: Licence | None, value: Any) -> Compliance:
    """authorised: listed for data by D323-2-1; open_not_listed: open but not on that list
    (e.g. CC-BY, superseded Licence Ouverte 1.0); not_open; unspecified: no licence or
    "notspecified"; unknown: the « licence non reconnue » entry, or a value the registry does not know (stored
    as-is by earlier versions)."""
    if licence is None:
        return "unknown" if isinstance(value, str) and value.strip() else "unspecified"
    if licence.id == UNRECOGNISED_ID:
        return "unknown"
    if licence.id == NOT_SPECIFIED_ID:
        return "unspecified"
    if licence.is_authorised_for_data:
        return "authorised"
    return "open_not_listed" if licence.is_open else "not_open"


def compliance_of_value(value: Any) -> Compliance:
    """Compliance of a raw license_id value (registry id or anything a source writes)."""
    if not isinstance(value, str) or not value.strip():
        return "unspecified"
    return compliance_of(normalize_licence(value).licence, value)


def refusal_message(licence: Licence) -> str:
    """The French (translated) field error for a licence an administration may not set on data."""
    if licence.legal_status == "superseded":
        return tk._(
            "Licence Ouverte 1.0 is superseded and is not on the list of licences an administration may "
            "set for data (CRPA art. D323-2-1): choose Licence Ouverte 2.0, which is compatible with it."
        )
    if licence.domain == "software":
        return tk._(
            "This licence is listed by CRPA art. D323-2-1 for software, not for data: choose Licence "
            "Ouverte 2.0 or ODbL 1.0."
        )
    return tk._(
        "This licence is not on the list of licences an administration may set for data (CRPA art. "
        "D323-2-1): choose Licence Ouverte 2.0 or ODbL 1.0, or have the licence homologated."
    )


# High-Value Datasets (regulation (EU) 2023/138, art. 4(3)): « under the conditions of the CC BY 4.0 licence, or any
# equivalent or less restrictive open licence ». Which registry licences qualify, each with its reason: data file.
HVD_LICENCES_CSV = os.path.join(os.path.dirname(__file__), "data", "hvd-licences.csv")


@functools.cache
def _hvd_compatible_ids() -> frozenset[str]:
    with open(HVD_LICENCES_CSV, encoding="utf-8", newline="") as handle:
        return frozenset(row["licence_id"].strip() for row in csv.DictReader(handle)
                         if row["hvd_compatible"].strip() == "yes")


def is_hvd_compatible(value: Any) -> bool:
    """Whether a licence value (registry id, or what a source wrote) is at least as permissive as CC BY 4.0
    (data/hvd-licences.csv); an unknown or missing licence is not."""
    if not isinstance(value, str) or not value.strip():
        return False
    licence = normalize_licence(value).licence
    return licence is not None and licence.id in _hvd_compatible_ids()
