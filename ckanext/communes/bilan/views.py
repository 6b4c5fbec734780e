"""Pages of the bilan: /communes/bilan (public report: figures, charts, commune and group tables,
snapshot picker and comparison, the operators' "freeze" form), its downloads
/communes/bilan/export.<csv|xlsx|json>, and the POST that freezes a bilan.

Every figure comes from the core's actions (communes_bilan, communes_bilan_snapshot_*) and exports; the
views only check the query string, arrange the figures (bilan/helpers.py) and turn the actions' errors into
4xx answers in French."""

from __future__ import annotations

import re
from typing import Any

import ckan.plugins.toolkit as tk
from flask import Blueprint, Response, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ckanext.communes.bilan import exports
from ckanext.communes.bilan import helpers as bilan_helpers
from ckanext.communes.communes import programme
from ckanext.communes.translation import N_, gettext

bilan = Blueprint("communes_bilan", __name__)

TODAY = "today"
GROUP_BYS: tuple[str, ...] = ("commune", "phase")
DIRECTIONS: tuple[str, ...] = ("asc", "desc")
# Snapshot ids are the core's (uuids); anything else cannot name one and is refused before any lookup.
SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_PARAM_CHARS = 64
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")


class BadParameter(Exception):
    """A query-string value the page cannot use: answered with `status` and a French message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _user_name() -> str:
    user = getattr(tk, "current_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return getattr(user, "name", "") or ""


def _context() -> dict[str, Any]:
    return {"user": _user_name()}


def _param(name: str, label: str) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_PARAM_CHARS:
        raise BadParameter(400, tk._("The parameter “{field}” ({label}) is too long: at most {max} characters.")
                           .format(field=name, label=label, max=MAX_PARAM_CHARS))
    return value


def _snapshot_param(name: str, label: str) -> str:
    """'' for today's figures, else a snapshot id that may exist (checked when it is read)."""
    value = _param(name, label)
    if value in ("", TODAY):
        return ""
    if not SNAPSHOT_ID.match(value):
        raise BadParameter(404, tk._("Unknown frozen bilan in “{field}” ({label}): {value}.")
                           .format(field=name, label=label, value=value))
    return value


def _group_by_param() -> str:
    value = _param("group_by", tk._("grouping")) or "commune"
    if value not in GROUP_BYS:
        raise BadParameter(400, tk._("Unknown value of “group_by” (grouping): {value}. Use commune or phase.")
                           .format(value=value))
    return value


def _read_bilan(group_by: str, snapshot_id: str, field: str = "snapshot") -> dict[str, Any]:
    try:
        return tk.get_action("communes_bilan")(_context(), {"group_by": group_by, "snapshot": snapshot_id or TODAY})
    except tk.ObjectNotFound:
        raise BadParameter(404, tk._("Unknown frozen bilan in “{field}”: {value}.")
                           .format(field=field, value=snapshot_id)) from None
    except tk.ValidationError as exc:
        raise BadParameter(400, _error_text(exc)) from None


def _error_text(exc: tk.ValidationError, with_fields: bool = True) -> str:
    """The action's French messages; with the parameter's name for a query string (a form field has its label)."""
    errors = exc.error_dict if isinstance(exc.error_dict, dict) else {"": exc.error_dict}
    parts = []
    for field, messages in errors.items():
        text = " ".join(str(m) for m in (messages if isinstance(messages, list) else [messages]))
        parts.append(f"{field} : {text}" if with_fields and field and not field.startswith("_") else text)
    return " ".join(parts) or str(exc)


def _snapshots() -> list[dict[str, Any]]:
    return tk.get_action("communes_bilan_snapshot_list")(_context(), {})


def _comparison(shown: str, other: str, snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The changes between the figures shown and those of `other`, oldest first (today is the newest):
    `?compare=X` shows what changed since X."""
    if other == shown:
        older, newer = other, shown
    else:
        created = {item["id"]: str(item.get("created") or "") for item in snapshots}
        # Today ('') is after every snapshot.
        def position(snapshot_id: str) -> str:
            return created.get(snapshot_id, "") if snapshot_id else "9999"

        # Snapshots of the same second: `other` is taken as the older ("what changed since other").
        older, newer = sorted((other, shown), key=position)
    compare = tk.get_action("communes_bilan_snapshot_compare")
    result = {}
    for group_by in GROUP_BYS:
        try:
            result[group_by] = compare(_context(), {"a": older, "b": newer or TODAY, "group_by": group_by})
        except tk.ObjectNotFound:
            raise BadParameter(404, tk._("Unknown frozen bilan in “{field}”: {value}.")
                               .format(field="compare", value=other)) from None
        except tk.ValidationError as exc:
            raise BadParameter(400, _error_text(exc)) from None
    return result


def _page_context(form_label: str = "", form_error: str | None = None) -> dict[str, Any]:
    shown = _snapshot_param("snapshot", tk._("frozen bilan shown"))
    other = _param("compare", tk._("frozen bilan to compare with"))
    if other == TODAY and not shown:
        other = ""  # today against today: nothing to compare (the picker offers both at once)
    elif other and other != TODAY:
        other = _snapshot_param("compare", tk._("frozen bilan to compare with"))
    commune_bilan = _read_bilan("commune", shown)
    phase_bilan = _read_bilan("phase", shown)

    sort = _param("sort", tk._("sort column")) or "name"
    if sort not in bilan_helpers.sort_keys(commune_bilan):
        raise BadParameter(400, tk._("Unknown sort column in “sort”: {value}. Use one of: {keys}.")
                           .format(value=sort, keys=", ".join(bilan_helpers.sort_keys(commune_bilan))))
    direction = _param("dir", tk._("sort direction")) or ("asc" if sort in bilan_helpers.NAME_SORT_KEYS else "desc")
    if direction not in DIRECTIONS:
        raise BadParameter(400, tk._("Unknown sort direction in “dir”: {value}. Use asc or desc.")
                           .format(value=direction))

    snapshots = _snapshots()
    comparison = None
    if other:
        compared = _comparison(shown, "" if other == TODAY else other, snapshots)
        unit_of, label_of = bilan_helpers.units(commune_bilan), bilan_helpers.labels(commune_bilan)
        comparison = {
            "a": compared["commune"].get("a") or {}, "b": compared["commune"].get("b") or {},
            "groups": bilan_helpers.comparison_lines(compared["phase"], unit_of, label_of, bilan_helpers.GROUP_KEYS),
            "communes": bilan_helpers.comparison_lines(compared["commune"], unit_of, label_of),
        }
    communes = [row for row in commune_bilan.get("rows", []) if row.get("kind", "commune") == "commune"]
    return {
        "bilan": commune_bilan,
        "phase_bilan": phase_bilan,
        "title": bilan_helpers.communes_bilan_snapshot_title(commune_bilan),
        "headline": bilan_helpers.headline(commune_bilan, phase_bilan),
        "charts": bilan_helpers.charts(phase_bilan, commune_bilan),
        "group_table": bilan_helpers.group_table(phase_bilan),
        "rows": bilan_helpers.commune_table(commune_bilan,
                                           bilan_helpers.sort_commune_rows(communes, sort, direction == "desc")),
        "sort": sort,
        "sort_label": {"name": tk._("Commune"), "partner_status": tk._("Partner status"),
                       **bilan_helpers.labels(commune_bilan)}.get(sort, sort),
        "dir": direction,
        "snapshots": snapshots,
        "shown": shown,
        "other": other,
        "comparison": comparison,
        "is_operator": programme.is_programme_operator(_user_name()),
        "form_label": form_label,
        "form_error": form_error,
    }


def index() -> Any:
    try:
        return tk.render("bilan/index.html", _page_context())
    except BadParameter as exc:
        return tk.abort(exc.status, exc.message)


CSRF_REFUSED = N_("The form has expired or does not come from this site (missing or invalid security token): "
                  "reload the page and try again.")


def snapshot_create() -> Any:
    """The operators' "freeze a bilan" form. The action's auth refuses anyone else (403). A GET (the
    address bar after a refused form) goes back to the page."""
    if request.method != "POST":
        return tk.redirect_to("communes_bilan.index")
    # The token is checked before the view by CKAN's CSRF protection, whose exemption of anonymous and
    # API-token requests lasts one request (ckanext/communes/csrf.py); its error page is French below.
    label = request.form.get("label", "")
    try:
        snapshot = tk.get_action("communes_bilan_snapshot_create")(_context(), {"label": label})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only the programme's operators (sysadmins and admins of the Métropole) may "
                                  "freeze a bilan."))
    except tk.ValidationError as exc:
        try:
            context = _page_context(form_label=label[:200], form_error=_error_text(exc, with_fields=False))
            page = tk.render("bilan/index.html", context)
        except BadParameter as bad:
            return tk.abort(bad.status, bad.message)
        return page, 400
    tk.h.flash_success(tk._("The bilan “{label}” is frozen: its figures will not change.")
                       .format(label=snapshot.get("label") or label))
    return tk.redirect_to("communes_bilan.index", snapshot=snapshot["id"])


def export(fmt: str) -> Any:
    """The figures of the page (today's or a snapshot's) as CSV, XLSX or JSON, by the core's exports."""
    if fmt not in EXPORT_FORMATS:
        return tk.abort(404, tk._("Unknown download format: {value}. Use csv, xlsx or json.").format(value=fmt[:20]))
    try:
        group_by = _group_by_param()
        bilan_dict = _read_bilan(group_by, _snapshot_param("snapshot", tk._("frozen bilan shown")))
    except BadParameter as exc:
        return tk.abort(exc.status, exc.message)
    filename, media_type, body = exports.export(bilan_dict, fmt)
    response = Response(body, content_type=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The headings of the error pages of the bilan (CKAN shows werkzeug's English name: "400 Bad Request").
ERROR_NAMES: dict[int, str] = {
    400: N_("Invalid request"), 403: N_("Access refused"), 404: N_("Figures not found"), 413: N_("Request too large"),
}
# werkzeug's English descriptions, for the errors no view of ours describes (a form too big to read, say).
# A routing error (405: a method the address does not take) reaches no blueprint: CKAN's page answers.
ERROR_TEXTS: dict[int, str] = {
    413: N_("The form sent is too large: a label has at most 200 characters."),
}


def error_page(error: HTTPException) -> tuple[str, int]:
    """The error pages of the bilan's addresses in the reader's language (CKAN's error template).

    A view's own message (tk.abort with a text) is kept; werkzeug's default English text is replaced. Also
    for the errors raised before a view runs, such as a form over the size Flask reads (413), raised by
    the CSRF check of CKAN's middleware."""
    code = int(error.code or 500)
    description = str(error.description or "")
    if isinstance(error, CSRFError):  # CKAN's own check (flask-wtf), before the view: its reason in English
        description = gettext(CSRF_REFUSED)
    elif description == str(type(error).description or "") and code in ERROR_TEXTS:
        description = gettext(ERROR_TEXTS[code])
    name = gettext(ERROR_NAMES[code]) if code in ERROR_NAMES else str(error.name or "")
    return tk.render("error_document_template.html", {
        "code": code, "content": description, "name": name,
        "show_login_redirect_link": code == 403 and not _user_name(),
    }), code


# By code, not by HTTPException: Flask tries every handler of the error's code (CKAN registers the app's
# for each code) before any registered for a class.
for _code in ERROR_NAMES:
    bilan.register_error_handler(_code, error_page)
bilan.add_url_rule("/communes/bilan", view_func=index, endpoint="index")
bilan.add_url_rule("/communes/bilan/snapshots", view_func=snapshot_create, endpoint="snapshot_create",
                   methods=["GET", "POST"])
bilan.add_url_rule("/communes/bilan/export.<fmt>", view_func=export, endpoint="export")


def get_blueprints() -> list[Blueprint]:
    return [bilan]
