"""Which dataset types may be written, and by whom.

CKAN validates a dataset with the schema of the plugin that claims its ``type``; a type no plugin
claims ("jeu", "foo") silently gets CKAN's default schema: no licence policy, no vocabularies, no
publisher derived from the commune, yet the dataset lands in the commune's DCAT catalogue. So only the
types our scheming schema owns, and ckanext-harvest's source type (its own auth functions decide who
manages sources), are open to non-sysadmins; anything else is a sysadmin's deliberate act.
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

AuthResult = dict[str, Any]

# ckanext-harvest stores harvest sources as datasets of this type.
HARVEST_SOURCE_TYPE = "harvest"


def writable_dataset_types() -> set[str]:
    """Dataset types non-sysadmins may create and update: our scheming schemas, harvest sources."""
    from ckanext.scheming.helpers import scheming_dataset_schemas

    return set(scheming_dataset_schemas() or {}) | {HARVEST_SOURCE_TYPE}


def _refusal(dataset_type: str) -> AuthResult:
    return {
        "success": False,
        "msg": tk._('Datasets of type "{type}" are not managed by this portal: use the type "dataset".').format(
            type=dataset_type[:100]),
    }


def _is_sysadmin(context: dict[str, Any]) -> bool:
    return authz.is_sysadmin(context.get("user"))


@tk.chained_auth_function
def package_create(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any] | None) -> AuthResult:
    dataset_type = (data_dict or {}).get("type") or "dataset"
    if not isinstance(dataset_type, str) or (
            dataset_type not in writable_dataset_types() and not _is_sysadmin(context)):
        return _refusal(str(dataset_type))
    return next_auth(context, data_dict)


@tk.chained_auth_function
def package_update(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any] | None) -> AuthResult:
    # package_update forces the stored type into data_dict; read the stored one to be sure.
    package = context.get("package")
    if package is None and data_dict:
        package = model.Package.get(str(data_dict.get("id") or data_dict.get("name") or ""))
    dataset_type = getattr(package, "type", None) or "dataset"
    if dataset_type not in writable_dataset_types() and not _is_sysadmin(context):
        return _refusal(dataset_type)
    return next_auth(context, data_dict)


def get_auth_functions() -> dict[str, Any]:
    return {"package_create": package_create, "package_update": package_update}
