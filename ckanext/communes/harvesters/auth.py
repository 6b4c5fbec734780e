"""Who may do what with harvest sources, jobs and reports.

ckanext-harvest 1.6.3 forwards most of its checks to ``package_update`` on the source dataset, so any
editor of the owner organisation can create, edit, run, clear or delete a source. Here:

- writing (create, update, patch, delete, clear, run, abort, reindex, import, approve withdrawals…):
  programme operators only (sysadmins, admins of the Métropole's organisation);
- reading a source, its jobs, job reports, objects: operators, and the members (admins, editors,
  members) of the source's owner organisation; nobody else, anonymous users included;
- global lists (all sources, all jobs, the harvest log): operators only.

The same rules guard the source *dataset* (type ``harvest``) under CKAN's own names (``package_create``,
``package_update`` — which ``package_patch``, ``package_delete`` and ``package_revise`` defer to —,
``package_show``, ``bulk_update_*``): otherwise ``package_update`` on a source's id would bypass all of
the above.

A harvested dataset is guarded on the routes that do not go through ``package_update``
(``package_owner_org_update``, ``dataset_purge``, ``bulk_update_*``) with protection.py's rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ckanext.communes.communes import programme
from ckanext.communes.harvesters import protection

AuthResult = dict[str, Any]
Context = dict[str, Any]
HARVEST_TYPE = "harvest"
READ_ROLES = ("admin", "editor", "member")

# ckanext-harvest auth names that write: operators only.
OPERATOR_ONLY = (
    "harvest_source_create", "harvest_source_update", "harvest_source_delete", "harvest_source_clear",
    "harvest_source_reindex", "harvest_sources_clear", "harvest_sources_reindex", "harvest_job_create",
    "harvest_job_create_all", "harvest_jobs_run", "harvest_send_job_to_gather_queue", "harvest_job_abort",
    "harvest_objects_import", "harvest_object_create",
)
# Not here: ``harvest_source_patch``, ``harvest_log_list``, ``harvest_abort_failed_jobs``. ckanext-harvest's
# ``_get_logic_functions`` fills one shared default dict for actions and auth functions, so those *action*
# functions end up registered as auth functions of the same name: a plain function of ours would clash,
# a chained one would depend on the order CKAN builds its registries. Our chained actions check
# ``harvest_source_update`` / ``harvest_jobs_run`` instead (actions.py).
# Lists spanning every source: operators only.
OPERATOR_ONLY_LISTS = ("harvest_source_list",)


def _user(context: Context) -> str | None:
    return context.get("user") or None


def is_operator(context: Context) -> bool:
    return programme.is_programme_operator(_user(context))


def _refuse_write() -> AuthResult:
    return {"success": False, "msg": tk._(
        "Only programme operators (administrators of the Métropole de Lyon) and sysadmins may manage "
        "harvest sources and jobs.")}


def _refuse_read() -> AuthResult:
    return {"success": False, "msg": tk._(
        "Only programme operators and the members of the source's organisation may see this harvest "
        "source, its jobs and reports.")}


def can_read_source(context: Context, source_id: str | None) -> bool:
    """Operator, or a member (any role) of the organisation owning the source dataset."""
    if is_operator(context):
        return True
    user = _user(context)
    if not user or not source_id:
        return False
    package = model.Package.get(source_id)
    if package is None or not package.owner_org:
        return False
    return authz.users_role_for_group_or_org(package.owner_org, user) in READ_ROLES


# --- ckanext-harvest's names ------------------------------------------------------------------------

def _operator_only(next_auth: Any, context: Context, data_dict: Any) -> AuthResult:
    # An operator need not be a member of the owner commune: next_auth (package_update…) would refuse.
    return {"success": True} if is_operator(context) else _refuse_write()


def _make_operator_only(name: str) -> Callable[..., AuthResult]:
    @tk.chained_auth_function
    def check(next_auth: Any, context: Context, data_dict: Any) -> AuthResult:
        return _operator_only(next_auth, context, data_dict)
    check.__name__ = name
    return check


def _source_id_of_job(data_dict: dict[str, Any]) -> str | None:
    from ckanext.harvest.model import HarvestJob

    job = HarvestJob.get(str(data_dict.get("id") or ""))
    if job is None:
        raise tk.ObjectNotFound(tk._("Harvest job not found"))
    return job.source_id


def _source_id_of_object(data_dict: dict[str, Any]) -> str | None:
    from ckanext.harvest.model import HarvestObject

    obj = None
    if data_dict.get("id"):
        obj = HarvestObject.get(str(data_dict["id"]))
    elif data_dict.get("dataset_id"):
        obj = (model.Session.query(HarvestObject)
               .filter(HarvestObject.package_id == str(data_dict["dataset_id"]))
               .filter(HarvestObject.current.is_(True)).first())
    if obj is None:
        raise tk.ObjectNotFound(tk._("Harvest object not found"))
    return obj.harvest_source_id or (obj.job.source_id if obj.job is not None else None)


def _source_id(data_dict: dict[str, Any], key: str = "id") -> str | None:
    value = data_dict.get(key)
    if not value:
        return None
    package = model.Package.get(str(value))
    return package.id if package is not None else None


def _reader(find_source: Callable[[dict[str, Any]], str | None]) -> Callable[..., AuthResult]:
    @tk.chained_auth_function
    @tk.auth_allow_anonymous_access  # anonymous users get our refusal, not CKAN's generic one
    def check(next_auth: Any, context: Context, data_dict: Any) -> AuthResult:
        source_id = find_source(data_dict or {})
        return {"success": True} if can_read_source(context, source_id) else _refuse_read()
    return check


def _operator_list(next_auth: Any, context: Context, data_dict: Any) -> AuthResult:
    return {"success": True} if is_operator(context) else _refuse_read()


def _list_or_source(next_auth: Any, context: Context, data_dict: Any) -> AuthResult:
    """harvest_job_list / harvest_object_list: of one source for its readers, of all for operators."""
    source_id = _source_id(data_dict or {}, "source_id")
    if not (data_dict or {}).get("source_id"):
        return _operator_list(next_auth, context, data_dict)
    return {"success": True} if can_read_source(context, source_id) else _refuse_read()


# --- the source dataset under CKAN's names ----------------------------------------------------------

def _stored_package(context: Context, data_dict: dict[str, Any] | None) -> Any:
    package = context.get("package")
    if package is None and data_dict:
        package = model.Package.get(str(data_dict.get("id") or data_dict.get("name") or ""))
    return package


@tk.chained_auth_function
def package_create(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    # CKAN's new-dataset form (/harvest/new) asks without a dict: the type is then the view's.
    import flask

    form_type = (flask.request.view_args or {}).get("package_type") if flask.has_request_context() else None
    if (data_dict or {}).get("type", form_type) == HARVEST_TYPE:
        return {"success": True} if is_operator(context) else _refuse_write()
    return next_auth(context, data_dict)


@tk.chained_auth_function
def package_update(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    package = _stored_package(context, data_dict)
    if getattr(package, "type", None) == HARVEST_TYPE:
        return {"success": True} if is_operator(context) else _refuse_write()
    return next_auth(context, data_dict)


@tk.chained_auth_function
@tk.auth_allow_anonymous_access
def package_show(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    package = _stored_package(context, data_dict)
    if getattr(package, "type", None) == HARVEST_TYPE:
        return {"success": True} if can_read_source(context, package.id) else _refuse_read()
    return next_auth(context, data_dict)


def _harvested_refusal(next_auth: Any, context: Context, data_dict: dict[str, Any] | None, dataset_keys: list[Any],
                       fields: list[str]) -> AuthResult:
    """Refused when a source owns one of the datasets (protection.py): the commune's members hear which
    source; anyone else hears CKAN's own refusal first. Operators get CKAN's answer."""
    found = None if is_operator(context) else protection.first_protected(dataset_keys)
    if found is None:
        return next_auth(context, data_dict)
    origin, package = found
    if not protection.is_commune_staff(context, package.owner_org):
        result = next_auth(context, data_dict)
        if not result.get("success"):
            return result
    return {"success": False, "msg": protection.refusal_message(origin, fields)}


def _bulk(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    datasets = (data_dict or {}).get("datasets")
    ids = [str(i) for i in datasets if isinstance(i, (str, int))] if isinstance(datasets, list) else []
    if ids and not is_operator(context):
        sources = (model.Session.query(model.Package.id)
                   .filter(model.Package.type == HARVEST_TYPE)
                   .filter(model.Package.id.in_(ids) | model.Package.name.in_(ids)).first())
        if sources is not None:
            return _refuse_write()
    return _harvested_refusal(next_auth, context, data_dict, ids, [tk._("the datasets themselves")])


@tk.chained_auth_function
def package_owner_org_update(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    return _harvested_refusal(next_auth, context, data_dict, [(data_dict or {}).get("id")], ["owner_org"])


@tk.chained_auth_function
def dataset_purge(next_auth: Any, context: Context, data_dict: dict[str, Any] | None) -> AuthResult:
    return _harvested_refusal(next_auth, context, data_dict, [(data_dict or {}).get("id")],
                              [tk._("the dataset itself")])


def get_auth_functions() -> dict[str, Any]:
    functions: dict[str, Any] = {name: _make_operator_only(name) for name in OPERATOR_ONLY}
    functions.update({name: tk.chained_auth_function(_operator_list) for name in OPERATOR_ONLY_LISTS})
    functions.update({
        "harvest_source_show": _reader(_source_id),
        "harvest_source_show_status": _reader(_source_id),
        "harvest_job_show": _reader(_source_id_of_job),  # also harvest_job_report's check
        "harvest_object_show": _reader(_source_id_of_object),
        "harvest_job_list": tk.chained_auth_function(_list_or_source),
        "harvest_object_list": tk.chained_auth_function(_list_or_source),
        "package_create": package_create,
        "package_update": package_update,
        "package_show": package_show,
        "bulk_update_private": tk.chained_auth_function(_bulk),
        "bulk_update_public": tk.chained_auth_function(_bulk),
        "bulk_update_delete": tk.chained_auth_function(_bulk),
        # Harvested datasets (protection.py): the routes that do not go through package_update.
        "package_owner_org_update": package_owner_org_update,
        "dataset_purge": dataset_purge,
    })
    return functions


# --- template helpers --------------------------------------------------------------------------------

def communes_harvest_is_operator() -> bool:
    """The current user may manage harvest sources (for the templates' buttons)."""
    return programme.is_programme_operator(getattr(tk.current_user, "name", None))


def communes_harvest_can_read_source(source_id: str) -> bool:
    return can_read_source({"user": getattr(tk.current_user, "name", None)}, source_id)


def get_helpers() -> dict[str, Any]:
    return {
        "communes_harvest_is_operator": communes_harvest_is_operator,
        "communes_harvest_can_read_source": communes_harvest_can_read_source,
    }
