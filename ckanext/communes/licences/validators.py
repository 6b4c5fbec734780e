"""Validators registered with CKAN (usable by name in scheming YAML).

- ``communes_licence_policy`` on ``license_id``: normalises the value to a registry id and
  applies the licence policy (see policy.py).
- ``communes_licence_compliance`` on the computed field ``licence_compliance``: recomputed
  from license_id on every save, whatever was submitted.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.licences import policy
from ckanext.communes.licences.normalise import normalize_licence

log = logging.getLogger(__name__)

LICENSE_ID_KEY = ("license_id",)


def _is_empty(value: Any) -> bool:
    return value is None or value is tk.missing or (isinstance(value, str) and not value.strip())


def communes_licence_policy(key: tuple, data: dict, errors: dict, context: dict) -> None:
    value = data.get(key)
    if _is_empty(value):
        # No licence is lawful (free reuse, CRPA L321-1); flagged "unspecified" by the compliance field.
        return
    match = normalize_licence(str(value))
    harvested = policy.is_harvest(context)
    if match.licence is None:
        if harvested:
            # Keep what the source wrote (CKAN shows it as the licence title); flagged "unknown".
            data[key] = match.original.strip()
            return
        errors[key].append(
            tk._('Unknown licence "{licence}": choose a licence from the list.').format(licence=value)
        )
        raise tk.StopOnError
    data[key] = match.licence.id
    if harvested or match.licence.is_authorised_for_data:
        return
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
