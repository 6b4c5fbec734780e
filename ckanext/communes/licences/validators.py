"""Validators registered with CKAN (usable by name in scheming YAML).

- ``communes_licence_policy`` on the dataset's ``license_id`` and on a resource's ``license``:
  normalises the value to a registry id and applies the licence policy (see policy.py). The policy
  judges a licence when it is set or changed: a dataset saved earlier with a licence that is now off
  the list (under ``warn`` or ``off``, or harvested) stays editable, and the page warns about it.
- ``communes_licence_compliance`` on the computed field ``licence_compliance``: recomputed
  from license_id on every save, whatever was submitted.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.licences import policy
from ckanext.communes.licences.normalise import normalize_licence

log = logging.getLogger(__name__)

LICENSE_ID_KEY = ("license_id",)
# Longest licence value echoed back in an error message (a caller may send megabytes).
MAX_ECHOED_CHARS = 120


def _is_empty(value: Any) -> bool:
    return value is None or value is tk.missing or (isinstance(value, str) and not value.strip())


def _stored_licence(key: tuple, data: dict, context: dict) -> str | None:
    """The licence value stored before this update, for the field being validated: the dataset's
    license_id, or the license of the resource with the same id. None on creation."""
    package = context.get("package")
    if not isinstance(package, model.Package) or data.get(("id",)) not in (None, tk.missing, package.id):
        return None
    if key == LICENSE_ID_KEY:
        return package.license_id
    if len(key) == 3 and key[0] == "resources":
        resource_id = data.get(("resources", key[1], "id"))
        if isinstance(resource_id, str) and resource_id:
            resource = model.Resource.get(resource_id)
            if resource is not None and resource.package_id == package.id:
                return (resource.extras or {}).get(key[2])
    return None


def _same_licence(value: str, stored: str | None) -> bool:
    if _is_empty(stored):
        return False
    if value.strip() == str(stored).strip():
        return True
    match, stored_match = normalize_licence(value), normalize_licence(str(stored))
    return (match.licence is not None and stored_match.licence is not None
            and match.licence.id == stored_match.licence.id)


def communes_licence_policy(key: tuple, data: dict, errors: dict, context: dict) -> None:
    value = data.get(key)
    if _is_empty(value):
        # No licence is lawful (free reuse, CRPA L321-1); flagged "unspecified" by the compliance field.
        # A resource without licence inherits the dataset's.
        data[key] = ""
        return
    if not isinstance(value, str):
        errors[key].append(tk._("A licence is a text value (an identifier from the list)."))
        raise tk.StopOnError
    match = normalize_licence(value)
    harvested = policy.is_harvest(context)
    unchanged = _same_licence(value, _stored_licence(key, data, context))
    if match.licence is None:
        if harvested or unchanged:
            # Keep what the source wrote (CKAN shows it as the licence title); flagged "unknown".
            data[key] = match.original.strip()
            return
        shown = value.strip()
        if len(shown) > MAX_ECHOED_CHARS:
            shown = shown[:MAX_ECHOED_CHARS] + "…"
        errors[key].append(
            tk._('Unknown licence "{licence}": choose a licence from the list.').format(licence=shown)
        )
        raise tk.StopOnError
    data[key] = match.licence.id
    if harvested or unchanged or match.licence.is_authorised_for_data:
        return
    if match.licence.id == policy.UNRECOGNISED_ID:
        # Says that a harvested source wrote a licence the portal cannot name: a person chooses a licence.
        errors[key].append(tk._("« Licence non reconnue » is set by harvesting only: choose a licence from the list."))
        raise tk.StopOnError
    if match.licence.id == policy.NOT_SPECIFIED_ID:
        return  # same as no licence: lawful, flagged "unspecified"
    mode = policy.licence_policy()
    if mode == "enforce":
        errors[key].append(policy.refusal_message(match.licence))
        raise tk.StopOnError
    if mode == "warn":
        log.info("Licence %s saved under licence_policy=warn (not on the CRPA D323-2-1 list)", match.licence.id)


def communes_licence_compliance(key: tuple, data: dict, errors: dict, context: dict) -> None:
    # navl runs fields in alphabetical order ("licence_compliance" < "license_id"), so this
    # cannot rely on license_id being normalised already: it normalises on its own.
    data[key] = policy.compliance_of_value(data.get(LICENSE_ID_KEY))


def get_validators() -> dict[str, Any]:
    return {
        "communes_licence_policy": communes_licence_policy,
        "communes_licence_compliance": communes_licence_compliance,
    }
