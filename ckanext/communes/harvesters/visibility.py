"""Who sees a harvest source (a dataset of type "harvest" to CKAN, holding the source's URL and
configuration): the programme operators (sysadmins, admins of the Métropole's organisation) and the members
(admin, editor, member) of the organisation that owns it; nobody else, anonymous users included. The rule of
harvesters/auth.py (``package_show``, ``harvest_source_show``…), carried to every other door:

- **Permission labels** (``IPermissionLabels``): a source is labelled for the operators and for itself
  (``communes-harvest-source-<id>``), never ``public``; a user holds the operators' label when an operator,
  and the label of each source of the organisations they belong to. CKAN filters with these labels
  ``package_search`` (and so organisation, group and user pages, feeds, DCAT catalogues),
  ``package_autocomplete``, and every activity stream and activity detail (an activity keeps the labels of
  its dataset when recorded, and its ``data`` holds the whole dataset dict: the source's URL and config).
  Other datasets keep CKAN's labels (private datasets as CKAN hides them). A user's source labels are
  computed at each request from the organisations they belong to now, so an owner change or a membership
  change takes effect at once, on past activities too.
- **A search filter** (``before_dataset_search``), its own ``fq_list`` entry: Solr ANDs separate filters,
  so no caller text (``fq="dataset_type:harvest OR"`` under CKAN's ``q.op=AND``, brackets, ``NOT``, local
  parameters) can join it. It holds where labels do not: internal searches with ``ignore_auth``, and a
  source indexed before these labels (until ``ckan search-index rebuild``).
- **No question Solr answers from the whole index** (same hook): ``facet.mincount`` under 1 (it listed every
  source's name and URL with a count of 0), index statistics functions (``docfreq(url,'…')``…) and document
  transformers in ``fl``, ``sort``, ``bf``, ``boost``, a query parser other than dismax, edismax, lucene.
- ``package_list`` (a database query, no labels), ``member_list`` (CKAN lists every dataset id of a group
  or organisation, private ones included: now those the user's labels reach) and ``package_autocomplete``
  (a source indexed before these labels): chained actions.
- Activities recorded before these labels carry ``public``: the plugin's migration relabels them
  (:func:`relabel_source_activities`).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import authz, model
from ckan.lib.plugins import DefaultPermissionLabels

from ckanext.communes.communes import programme

HARVEST_SOURCE_TYPE = "harvest"
READ_ROLES = ("admin", "editor", "member")  # as harvesters/auth.py: any member of the owner organisation
OPERATORS_LABEL = "communes-harvest-operators"
SOURCE_LABEL_PREFIX = "communes-harvest-source-"

Context = dict[str, Any]
DataDict = dict[str, Any]


def source_label(source_id: str) -> str:
    return SOURCE_LABEL_PREFIX + source_id


def _account(user: Any) -> model.User | None:
    """The active account of a name, id, model.User or flask-login user; None for anonymous users."""
    if user is None or getattr(user, "is_anonymous", False):
        return None
    if not isinstance(user, model.User):
        name = getattr(user, "name", user)
        user = model.User.get(str(name)) if name else None
    return user if user is not None and user.state == "active" else None


def member_org_ids(account: model.User) -> list[str]:
    """Active organisations where the account is admin, editor or member."""
    rows = (model.Session.query(model.Member.group_id)
            .join(model.Group, model.Group.id == model.Member.group_id)
            .filter(model.Member.table_name == "user", model.Member.table_id == account.id,
                    model.Member.state == "active", model.Member.capacity.in_(READ_ROLES),
                    model.Group.is_organization.is_(True), model.Group.state == "active"))
    return sorted({group_id for (group_id,) in rows})


def readable_source_ids(account: model.User) -> list[str]:
    """Sources (any state) owned by an organisation the account belongs to."""
    org_ids = member_org_ids(account)
    if not org_ids:
        return []
    rows = (model.Session.query(model.Package.id)
            .filter(model.Package.type == HARVEST_SOURCE_TYPE, model.Package.owner_org.in_(org_ids)))
    return [package_id for (package_id,) in rows]


def sees_every_source(user: Any) -> bool:
    account = _account(user)
    return account is not None and programme.is_programme_operator(account)


# --- permission labels -------------------------------------------------------------------------------

_ckan_labels = DefaultPermissionLabels()


def dataset_labels(dataset_obj: model.Package) -> list[str]:
    """IPermissionLabels.get_dataset_labels."""
    if getattr(dataset_obj, "type", None) == HARVEST_SOURCE_TYPE:
        return [OPERATORS_LABEL, source_label(dataset_obj.id)]
    return _ckan_labels.get_dataset_labels(dataset_obj)


def user_dataset_labels(user_obj: Any) -> list[str]:
    """IPermissionLabels.get_user_dataset_labels."""
    labels = list(_ckan_labels.get_user_dataset_labels(user_obj))
    account = _account(user_obj)
    if account is None:
        return labels
    if programme.is_programme_operator(account):
        labels.append(OPERATORS_LABEL)
    labels.extend(source_label(source_id) for source_id in readable_source_ids(account))
    return labels


def relabel_source_activities(connection: Any) -> int:
    """Give the activities of every source its labels (CKAN labelled them ``public`` before this module):
    for the plugin's migration. Returns how many activities changed. A portal without the activity table
    (the activity plugin never enabled) has nothing to relabel."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("activity") or "permission_labels" not in {
            column["name"] for column in inspector.get_columns("activity")}:
        return 0
    result = connection.execute(sa.text(
        "UPDATE activity SET permission_labels = ARRAY[CAST(:operators AS text), :prefix || package.id] "
        "FROM package WHERE activity.object_id = package.id AND package.type = :type"
    ), {"operators": OPERATORS_LABEL, "prefix": SOURCE_LABEL_PREFIX, "type": HARVEST_SOURCE_TYPE})
    return int(result.rowcount or 0)


# --- search ------------------------------------------------------------------------------------------

def _current_user() -> Any:
    try:
        return tk.current_user
    except (AttributeError, RuntimeError):  # outside a request: a worker, the CLI
        return None


def _solr_phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_filter(user: Any) -> str | None:
    """The Solr filter leaving out the sources ``user`` may not read; None for an operator."""
    account = _account(user)
    if account is not None and programme.is_programme_operator(account):
        return None
    not_a_source = f"(*:* -dataset_type:{HARVEST_SOURCE_TYPE})"
    org_ids = member_org_ids(account) if account is not None else []
    if not org_ids:
        return not_a_source
    owners = " OR ".join(_solr_phrase(org_id) for org_id in org_ids)
    return f"{not_a_source} OR (dataset_type:{HARVEST_SOURCE_TYPE} AND owner_org:({owners}))"


# Solr answers some questions from the whole index, before any filter: what ``package_search`` lets a caller
# ask must not include them, or it would confirm or list what the filters hide (found by probing).
# - facet.mincount=0 lists every term of a field, with a count of 0 for the hidden ones: every source's
#   name and URL, every private dataset's name;
# - index statistics functions (docfreq(url,'http://…'), ttf, idf, numdocs…) in ``fl``, ``sort``, ``bf``,
#   ``boost``, or as ``q`` under defType=func: whether a guessed name or URL is in the index;
# - document transformers in ``fl`` ([explain] carries term statistics too).
_INDEX_STATISTICS = re.compile(r"\b(docfreq|ttf|totaltermfreq|sumtotaltermfreq|sttf|idf|maxdoc|numdocs)\s*\(",
                               re.IGNORECASE)
_FIELD_LIST_ITEM = re.compile(r"[A-Za-z0-9_.*-]+")
QUERY_PARSERS = ("dismax", "edismax", "lucene")


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _refuse(parameter: str, message: str) -> NoReturn:
    raise tk.ValidationError({parameter: [message]})


def refuse_index_wide_questions(search_params: dict[str, Any]) -> None:
    """A French field error (409 through the API) for a question Solr would answer from the whole index;
    a facet.mincount under 1 is raised to 1."""
    for item in _texts(search_params.get("fl")):
        if not all(_FIELD_LIST_ITEM.fullmatch(name) for name in re.split(r"[\s,]+", item.strip()) if name):
            _refuse("fl", tk._('The field list (fl) may only name fields, e.g. ["name", "title"].'))
    for parameter in ("sort", "bf", "boost"):
        if any(_INDEX_STATISTICS.search(text) for text in _texts(search_params.get(parameter))):
            _refuse(parameter, tk._("Index statistics functions (docfreq, ttf, idf, numdocs…) are not "
                                    "allowed in a search."))
    if any("(" in text for text in _texts(search_params.get("sort"))):
        _refuse("sort", tk._("The sort order must be a field followed by asc or desc, "
                             "e.g. title_string asc."))
    def_type = search_params.get("defType")
    if def_type is not None and def_type not in QUERY_PARSERS:
        _refuse("defType", tk._("Unknown query parser: use one of {parsers}.").format(
            parsers=", ".join(QUERY_PARSERS)))
    if search_params.get("facet.mincount") not in (None, ""):
        try:
            mincount = int(str(search_params["facet.mincount"]))
        except ValueError:
            _refuse("facet.mincount", tk._("facet.mincount must be a whole number."))
        search_params["facet.mincount"] = max(1, mincount)


def restrict_harvest_sources(search_params: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_search: the filter as its own ``fq_list`` entry, never joined to
    the caller's ``q``, ``fq`` or ``fq_list``; and no question Solr answers from the whole index."""
    refuse_index_wide_questions(search_params)
    restriction = source_filter(_current_user())
    if restriction is None:
        return search_params
    fq_list = search_params.get("fq_list") or []
    if isinstance(fq_list, str):
        fq_list = [fq_list]
    search_params["fq_list"] = [*fq_list, restriction]
    return search_params


# --- chained actions ---------------------------------------------------------------------------------

def _sees_every_source(context: Context) -> bool:
    return bool(context.get("ignore_auth")) or sees_every_source(context.get("user"))


@tk.chained_action
@tk.side_effect_free
def package_list(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """CKAN's query (active public datasets, names or, for API v2, ids), without the sources the user may
    not read: CKAN lists every public package, sources included."""
    if _sees_every_source(context):
        return up_func(context, data_dict)
    from ckan.logic.schema import default_pagination_schema

    data_dict, errors = tk.navl_validate(dict(data_dict or {}), default_pagination_schema(), context)
    if errors:
        raise tk.ValidationError(errors)
    tk.check_access("package_list", context, data_dict)
    account = _account(context.get("user"))
    readable = readable_source_ids(account) if account is not None else []
    table = model.package_table
    column = table.c["id"] if context.get("api_version", 1) == 2 else table.c["name"]
    query = (sa.select(column)
             .where(table.c["state"] == "active", table.c["private"].is_(False),
                    sa.or_(table.c["type"].is_(None), table.c["type"] != HARVEST_SOURCE_TYPE,
                           table.c["id"].in_(readable)))
             .order_by(column))
    if data_dict.get("limit"):
        query = query.limit(data_dict["limit"])
    if data_dict.get("offset"):
        query = query.offset(data_dict["offset"])
    return model.Session.scalars(query).all()


@tk.chained_action
@tk.side_effect_free
def package_autocomplete(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """CKAN's, less the sources the user may not read (permission labels do it once a source is indexed
    with them; this also covers one indexed before)."""
    results = up_func(context, data_dict)
    if _sees_every_source(context) or not results:
        return results
    names = [item.get("name") for item in results]
    sources = dict(model.Session.query(model.Package.name, model.Package.id)
                   .filter(model.Package.name.in_(names), model.Package.type == HARVEST_SOURCE_TYPE))
    if not sources:
        return results
    account = _account(context.get("user"))
    readable = set(readable_source_ids(account)) if account is not None else set()
    return [item for item in results if item.get("name") not in sources or sources[item["name"]] in readable]


@tk.chained_action
@tk.side_effect_free
def member_list(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """CKAN's, less the datasets the user could not find with ``package_search``: CKAN lists a group's or
    organisation's every dataset id to anyone, sources and private datasets included."""
    members = up_func(context, data_dict)
    user = context.get("user")
    if context.get("ignore_auth") or (user and authz.is_sysadmin(user)):
        return members
    package_ids = [member[0] for member in members if member[1] == "package"]
    if not package_ids:
        return members
    account = _account(user)
    labels = set(user_dataset_labels(account))
    packages = model.Session.query(model.Package).filter(model.Package.id.in_(package_ids))
    visible = {package.id for package in packages if labels.intersection(dataset_labels(package))}
    return [member for member in members if member[1] != "package" or member[0] in visible]


def get_actions() -> dict[str, Any]:
    return {"package_list": package_list, "package_autocomplete": package_autocomplete,
            "member_list": member_list}
