"""A harvested dataset belongs to its source: what the source provides is not edited by hand.

A commune editor (or admin) who changes a field the source provides, or its resources, or deletes, hides or
moves the dataset, is refused (403) with a French message naming the source: the next harvest would undo
the change, or bring the dataset back. Fields the source leaves empty stay editable (a contact point the
source lacks, say; on a resource, a description it lacks). Operators may edit anything, and may detach
the dataset from its source (operators.py), after which it is an ordinary dataset of the commune.

Every route is guarded, not only ``package_update`` of a field:

- ``package_update`` is where ``package_patch``, ``package_revise``, ``resource_create`` / ``_update`` /
  ``_patch`` / ``_delete``, ``package_resource_reorder`` and the bulk actions (one ``package_patch`` per
  dataset) all end. It compares what is submitted with what is stored: the fields the source provides; the
  resources as a list (how many, in which order, and on each the fields the source provides for it: the
  source's resources are matched by URL, as the harvester does; the URL itself always counts); and where
  the dataset stands: ``state`` (deleted, draft), ``private``, ``owner_org``. Nothing here reads ``state``
  or a resource's name from the source: they are compared whatever the source says.
- ``package_delete``: refused outright.
- ``package_owner_org_update``, ``dataset_purge``, ``bulk_update_*``: their auth functions (auth.py) ask
  :func:`first_protected` and :func:`refusal_message`; the bulk actions also refuse a malformed list
  here (CKAN's answers a 500).

Who passes: the harvest itself (its context flag), operators, internal calls with ``ignore_auth``. Anyone
else is refused; those who may not edit the dataset at all (anonymous users, another commune) hear CKAN's
refusal, the commune's members ours.

How the refusal reaches them: through the action API (and any other caller) a ``NotAuthorized``, a 403 with
our French message. Through CKAN's dataset and resource forms a ``ValidationError``: those views answer a
``NotAuthorized`` with a bare « Unauthorized to read package » page, losing what was typed, but show a
``ValidationError`` in the form again (:func:`_posted_by_a_form`). The form posts repeating sub-fields
flattened (``contact-0-name``): they are expanded as scheming does before comparing, so that a form posted
back unchanged is not a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import authz, model

from ckanext.communes.communes import programme
from ckanext.communes.harvesters.base import DETACHED_KEY
from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
from ckanext.communes.schema.values import as_list, is_blank
from ckanext.communes.translation import N_
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectExtra, HarvestSource

# Keys of a harvested dataset that are bookkeeping, not content.
IGNORED_KEYS = frozenset({"id", "name", "owner_org", "harvest_unmapped", "publisher", "licence_compliance"})


@dataclass(frozen=True)
class HarvestOrigin:
    source_id: str
    source_title: str
    source_url: str
    last_harvested: str | None
    detached: bool
    content: dict[str, Any]


def origin_of(package_id: str | None) -> HarvestOrigin | None:
    """Where a dataset was harvested from (its current harvest object), None if it was not."""
    if not package_id:
        return None
    current = (
        model.Session.query(HarvestObject)
        .filter(HarvestObject.package_id == package_id, HarvestObject.current.is_(True))
        .order_by(HarvestObject.import_finished.desc().nullslast())
        .first()
    )
    if current is None:
        return None
    source = HarvestSource.get(current.harvest_source_id)
    if source is None:
        return None
    last_job = (
        model.Session.query(HarvestJob)
        .filter(HarvestJob.source_id == source.id, HarvestJob.status == "Finished")
        .order_by(HarvestJob.finished.desc().nullslast())
        .first()
    )
    try:
        content = json.loads(current.content or "{}")
    except ValueError:
        content = {}
    return HarvestOrigin(
        source_id=source.id,
        source_title=source.title or source.url,
        source_url=source.url,
        last_harvested=last_job.finished.isoformat() if last_job and last_job.finished else None,
        detached=any(extra.key == DETACHED_KEY for extra in current.extras),
        content=content if isinstance(content, dict) else {},
    )


def protected_origin(package_id: str | None) -> HarvestOrigin | None:
    """The dataset's source while the source owns it: harvested and not detached."""
    origin = origin_of(package_id)
    return origin if origin is not None and not origin.detached else None


def first_protected(ids_or_names: Iterable[Any]) -> tuple[HarvestOrigin, Any] | None:
    """The first of these datasets (ids or names) a source owns, with its package; None if none is."""
    keys = sorted({str(key) for key in ids_or_names if isinstance(key, (str, int))})[:MAX_BULK_DATASETS]
    if not keys:
        return None
    candidates = (
        model.Session.query(model.Package)
        .join(HarvestObject, HarvestObject.package_id == model.Package.id)
        .filter(HarvestObject.current.is_(True))
        .filter(model.Package.id.in_(keys) | model.Package.name.in_(keys))
        .filter(~sa.exists().where(sa.and_(HarvestObjectExtra.harvest_object_id == HarvestObject.id,
                                           HarvestObjectExtra.key == DETACHED_KEY)))
        .order_by(model.Package.name)
        .limit(10)
        .all()
    )
    for package in candidates:
        origin = protected_origin(package.id)
        if origin is not None:
            return origin, package
    return None


def is_commune_staff(context: dict[str, Any], org_id: str | None) -> bool:
    """A member (any role) of the organisation that owns the dataset: the people the protection speaks to."""
    user = context.get("user")
    if not user or not org_id:
        return False
    return authz.users_role_for_group_or_org(org_id, str(user)) is not None


# --- what changed --------------------------------------------------------------------------------------

# Where the dataset stands, compared whatever the source provides: deleted or draft, hidden, moved.
PLACEMENT_KEYS = ("state", "private", "owner_org")
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "off", "0", ""})


def _normal(value: Any) -> Any:
    """A value as it compares: blanks dropped, scalars as trimmed strings, mappings and lists alike
    however they arrived (the API's types, the form's strings)."""
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))
                if not is_blank(v)}
    if isinstance(value, (list, tuple)):
        # An entry left all blank is none: the dataset form posts an empty row of each repeating field
        # (its "add another" template) beside the filled ones.
        return [normal for normal in (_normal(item) for item in value if not is_blank(item)) if normal != {}]
    return "" if is_blank(value) else str(value).strip()


def _is_multiple(value: Any) -> bool:
    """A multi-valued field: a list of plain values, or the JSON list string scheming stores."""
    if isinstance(value, str):
        return value.strip().startswith("[")
    return isinstance(value, (list, tuple)) and not any(isinstance(item, dict) for item in value)


def _differs(key: str, stored: Any, submitted: Any) -> bool:
    if key == "tags":
        return _tag_names(submitted) != _tag_names(stored)
    if _is_multiple(stored) or _is_multiple(submitted):
        # The form sends one chosen value as a plain string, the API a list: the same values either way.
        return sorted(as_list(submitted)) != sorted(as_list(stored))
    return _normal(submitted) != _normal(stored)


def _tag_names(value: Any) -> set[str]:
    return {str(t.get("name") if isinstance(t, dict) else t).strip() for t in _as_items(value)}


def _as_items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    return True if text in TRUE_WORDS else False if text in FALSE_WORDS else None


def _placement_changed(key: str, stored: dict[str, Any], submitted: Any) -> bool:
    if submitted is None:
        return False  # CKAN ignores a missing value there (the stored one stays)
    if key == "private":
        return _as_bool(submitted) != bool(stored.get("private"))
    if key == "owner_org":
        group = model.Group.get(submitted) if isinstance(submitted, str) and submitted else None
        return (group.id if group is not None else submitted) != stored.get("owner_org")
    return submitted != stored.get(key)


def _resources_changed(origin: HarvestOrigin, stored: Any, submitted: Any) -> bool:
    """The resources as a list: their number, their order, and on each the fields the source provides
    for it (its resource of the same URL; all the fields it provides on any resource when none matches)."""
    if not isinstance(submitted, list) or not all(isinstance(r, dict) for r in submitted):
        return True
    stored_resources = [r for r in _as_items(stored) if isinstance(r, dict)]
    if len(submitted) != len(stored_resources):
        return True
    source_resources = [r for r in _as_items(origin.content.get("resources")) if isinstance(r, dict)]
    keys_by_url = {str(r.get("url") or ""): set(r) for r in source_resources}
    any_source_key = set().union(*keys_by_url.values()) if keys_by_url else set()
    for new, old in zip(submitted, stored_resources, strict=True):
        keys = (keys_by_url.get(str(old.get("url") or ""), any_source_key) | {"url"}) - RESOURCE_BOOKKEEPING
        if any(_differs(key, old.get(key), new.get(key)) for key in keys):
            return True
    return False


RESOURCE_BOOKKEEPING = frozenset({"id", "package_id", "position"})


def _tag_string_changed(stored_tags: Any, tag_string: Any) -> bool:
    """The form (and many API callers) send the tags as ``tag_string`` ("a, b"), which CKAN turns into
    ``tags``: the same tags, or a change of the tags the source provides."""
    if tag_string is None:
        return False
    if not isinstance(tag_string, str):
        return True
    names = {name.strip() for name in tag_string.split(",") if name.strip()}
    return names != _tag_names(stored_tags)


def _with_form_subfields_expanded(submitted: dict[str, Any], package_type: str | None) -> dict[str, Any]:
    """The dataset form posts a field of repeating sub-fields as ``contact-0-name``, ``contact-0-email``…:
    a copy with them gathered into ``contact`` (a list of dicts), as scheming does before validating."""
    if not any("-" in str(key) for key in submitted):
        return submitted
    from ckanext.scheming.helpers import scheming_get_dataset_schema
    from ckanext.scheming.plugins import expand_form_composite

    schema = scheming_get_dataset_schema(package_type or "dataset") or {}
    composite = {f["field_name"] for f in schema.get("dataset_fields", []) if "repeating_subfields" in f}
    expanded = dict(submitted)
    if composite:
        expand_form_composite(expanded, composite)
    return expanded


def changed_harvested_fields(origin: HarvestOrigin, stored: dict[str, Any], submitted: dict[str, Any]) -> list[str]:
    """Fields the source provides whose submitted value differs from the stored one, the resources, and
    where the dataset stands (state, private, owner_org)."""
    submitted = _with_form_subfields_expanded(submitted, stored.get("type"))
    changed = []
    for key in origin.content:
        if key in IGNORED_KEYS or key == "resources" or (key == "tags" and "tag_string" in submitted):
            continue
        # A field left out of a package_update is emptied (package_patch and the form send them all).
        if _differs(key, stored.get(key), submitted.get(key)):
            changed.append(key)
    if "tags" in origin.content and "tag_string" in submitted and _tag_string_changed(
            stored.get("tags"), submitted["tag_string"]):
        changed.append("tags")
    if "resources" in submitted and _resources_changed(origin, stored.get("resources"), submitted["resources"]):
        changed.append("resources")
    changed += [key for key in PLACEMENT_KEYS if key in submitted and _placement_changed(key, stored, submitted[key])]
    return changed


# --- refusals ------------------------------------------------------------------------------------------

def _may_bypass(context: dict[str, Any]) -> bool:
    # The harvest itself, operators, and internal calls (ignore_auth is never set by an API caller).
    return bool(context.get(HARVEST_CONTEXT_FLAG) or context.get("ignore_auth")
                or programme.is_programme_operator(context.get("user")))


def refusal_message(origin: HarvestOrigin, fields: list[str]) -> str:
    return tk._(
        'This dataset is harvested from the source "{source}": what the source provides is changed there, '
        "and only the source withdraws, hides or moves the dataset; refused here: {fields}. A programme operator "
        "can detach the dataset from its source.").format(source=origin.source_title, fields=", ".join(fields))


# The CKAN views that show a ValidationError in their form again (what was typed kept, errors under the
# fields) but answer a NotAuthorized with a bare 403 page: the dataset forms (edit, and new for a draft) and
# the resource forms (a resource's create and update end in package_update).
FORM_VIEWS = (("ckan.views.dataset", "EditView"), ("ckan.views.dataset", "CreateView"),
              ("ckan.views.resource", "EditView"), ("ckan.views.resource", "CreateView"))
# The key of the whole refusal in a form's errors. No field has that name, so the forms list it with the
# others under a label they translate from the key itself: scheming's list shows ``_(key)``, CKAN's summary
# ``_(key with "_" as " ", capitalised)``; both are « Source de moissonnage » for this one.
FORM_ERROR_KEY = N_("Harvest source")


def _posted_by_a_form() -> bool:
    """This package_update comes from one of CKAN's dataset or resource forms (not the action API, whose
    callers keep the 403, nor a command or a job)."""
    import flask

    if not flask.has_request_context() or flask.request.method != "POST":
        return False
    view = flask.current_app.view_functions.get(flask.request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    return (getattr(view_class, "__module__", None), getattr(view_class, "__name__", None)) in FORM_VIEWS


def _field_labels(package_type: str | None, fields: list[str]) -> list[str]:
    """The refused fields as the form labels them (« Titre », « Mots-clés »); the key where it has none."""
    from ckanext.scheming.helpers import scheming_get_dataset_schema, scheming_language_text

    schema = scheming_get_dataset_schema(package_type or "dataset") or {}
    labels = {f["field_name"]: scheming_language_text(f.get("label")) for f in schema.get("dataset_fields", [])
              if f.get("label")}
    labels["tags"] = labels.get("tag_string", "tags")
    labels.update({"resources": tk._("Resources"), "private": tk._("Visibility"), "state": tk._("State")})
    return [str(labels.get(field) or field) for field in fields]


def form_refusal(origin: HarvestOrigin, fields: list[str], submitted: dict[str, Any],
                 package_type: str | None) -> tk.ValidationError:
    """The refusal as the forms show it: in the form's list of errors the whole message, naming the source
    and the fields by their labels, and under each refused field the form has (by the name it posts) a short
    reason. Fields of repeating sub-fields get none there (scheming reads their errors as a list of dicts)."""
    errors: dict[str, Any] = {FORM_ERROR_KEY: [refusal_message(origin, _field_labels(package_type, fields))]}
    under_field = tk._('Provided by the harvest source "{source}": change it at the source.').format(
        source=origin.source_title)
    for field in fields:
        name = "tag_string" if field == "tags" and "tag_string" in submitted else field
        # "tags" and "resources" are not form fields (CKAN reads their errors in shapes of its own).
        if name in submitted and name not in ("tags", "resources") and not _is_list_of_dicts(submitted[name]):
            errors[name] = [under_field]
    return tk.ValidationError(errors)


def _is_list_of_dicts(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _refuse(context: dict[str, Any], auth_name: str, data_dict: dict[str, Any], package: Any,
            origin: HarvestOrigin, fields: list[str]) -> None:
    if not is_commune_staff(context, package.owner_org):
        tk.check_access(auth_name, context, data_dict)  # who may not edit it at all hears CKAN's refusal
    if auth_name == "package_update" and _posted_by_a_form():
        raise form_refusal(origin, fields, data_dict, package.type)
    raise tk.NotAuthorized(refusal_message(origin, fields))


def _package(data_dict: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = data_dict.get(key)
        if isinstance(value, str) and value:
            return model.Package.get(value)
    return None


@tk.chained_action
def package_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if not _may_bypass(context):
        package = _package(data_dict, "id", "name")
        origin = protected_origin(package.id) if package is not None else None
        if origin is not None:
            stored = tk.get_action("package_show")({"ignore_auth": True, "use_cache": False}, {"id": package.id})
            changed = changed_harvested_fields(origin, stored, data_dict)
            if changed:
                _refuse(context, "package_update", data_dict, package, origin, changed)
    return next_action(context, data_dict)


@tk.chained_action
def package_delete(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if not _may_bypass(context):
        package = _package(data_dict, "id")
        origin = protected_origin(package.id) if package is not None else None
        if origin is not None:
            _refuse(context, "package_delete", data_dict, package, origin, [tk._("the dataset itself")])
    return next_action(context, data_dict)


MAX_BULK_DATASETS = 1000


def _check_bulk_request(data_dict: dict[str, Any]) -> None:
    """CKAN's bulk actions put ``datasets`` in an SQL ``IN`` as they come: a string, a number or a list of
    objects there is a 500."""
    datasets = data_dict.get("datasets", [])
    if (not isinstance(datasets, list) or len(datasets) > MAX_BULK_DATASETS
            or not all(isinstance(d, str) and len(d) <= 100 for d in datasets)):
        raise tk.ValidationError({"datasets": [tk._(
            "Give a list of dataset ids (at most 1,000).")]})
    if not isinstance(data_dict.get("org_id"), (str, type(None))):
        raise tk.ValidationError({"org_id": [tk._("Give the id of the organisation.")]})


def _bulk(name: str) -> Any:
    @tk.chained_action
    def bulk(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
        _check_bulk_request(data_dict)
        return next_action(context, data_dict)
    bulk.__name__ = name
    return bulk


def communes_harvest_origin(pkg_dict: dict[str, Any]) -> dict[str, Any] | None:
    """Template helper: the dataset's source (title, link to its page, last harvest), None if not harvested."""
    origin = origin_of((pkg_dict or {}).get("id"))
    if origin is None:
        return None
    return {"source_id": origin.source_id, "title": origin.source_title, "url": origin.source_url,
            "page": tk.url_for("harvest.read", id=origin.source_id), "last_harvested": origin.last_harvested,
            "detached": origin.detached}


def get_actions() -> dict[str, Any]:
    return {"package_update": package_update, "package_delete": package_delete,
            **{name: _bulk(name) for name in ("bulk_update_delete", "bulk_update_private", "bulk_update_public")}}


def get_helpers() -> dict[str, Any]:
    return {"communes_harvest_origin": communes_harvest_origin}
