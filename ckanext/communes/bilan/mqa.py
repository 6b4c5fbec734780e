"""The ``communes_mqa`` action (issue #25): data.europa.eu's Metadata Quality Assessment of a dataset, a
commune (organisation), a group of the bilan (bilan/groups.py) or the whole catalogue, computed by
quality/mqa.py from the stored evidence. It lives in bilan/ because the groups do (quality/ may not import
them).

Who sees what: the datasets the caller may read, as CKAN decides it (``package_show``'s rule): public ones
for everybody, private ones also for the members of their organisation and for sysadmins. Active datasets of
type ``dataset`` only (drafts and deleted ones are not published, so data.europa.eu never sees them).
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import authz, model

from ckanext.communes.bilan import groups, sql
from ckanext.communes.communes import programme, registry
from ckanext.communes.quality import mqa

SCOPES = ("dataset", "organization", "group", "catalogue")
SHOWN_MAX = 40  # characters of a refused value repeated in a message


def _shown(value: Any) -> str:
    text = str(value) if isinstance(value, (str, int, float)) else type(value).__name__
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "…"


def _scope(data_dict: dict[str, Any]) -> str:
    value = data_dict.get("scope")
    if value in (None, ""):
        raise tk.ValidationError({"scope": [tk._("{field}: this field is required.").format(field="scope")]})
    if not isinstance(value, str) or value.strip() not in SCOPES:
        raise tk.ValidationError({"scope": [tk._("{field}: unknown value \"{value}\"; use one of: {choices}.").format(
            field="scope", value=_shown(value), choices=", ".join(SCOPES))]})
    return value.strip()


def _id(data_dict: dict[str, Any]) -> str:
    value = data_dict.get("id")
    if value in (None, ""):
        raise tk.ValidationError({"id": [tk._("{field}: this field is required.").format(field="id")]})
    if not isinstance(value, str) or len(value) > 200:
        raise tk.ValidationError({"id": [tk._("{field}: \"{value}\" is not an identifier.").format(
            field="id", value=_shown(value))]})
    return value.strip()


def _readable_orgs(user: str | None) -> list[str] | None:
    """The organisations whose private datasets the user may read; None: every one (sysadmin)."""
    if authz.is_sysadmin(user):
        return None
    if not user:
        return []
    return [org["id"] for org in tk.get_action("organization_list_for_user")(
        {"user": user, "ignore_auth": True}, {"permission": "read", "include_dataset_count": False})]


def visible_dataset_ids(user: str | None, owner_orgs: list[str] | None = None) -> list[str]:
    """Ids of the active datasets the user may read, of ``owner_orgs`` when given (one query)."""
    readable = _readable_orgs(user)
    query = ("SELECT id FROM package WHERE state = 'active' AND type = 'dataset'"
             + ("" if readable is None else " AND (NOT private OR owner_org = ANY(:readable))")
             + ("" if owner_orgs is None else " AND owner_org = ANY(:owners)")
             + " ORDER BY id")
    return [row[0] for row in model.Session.execute(
        sa.text(query), {"readable": readable or [], "owners": owner_orgs or []})]


_PUBLIC_EVIDENCE = sa.text("""
    SELECT p.id, p.owner_org, s.conforms, s.mqa_facts,
           (SELECT json_agg(json_build_array(l.resource_id, l.url, l.checked_at IS NOT NULL, l.error IS NULL))
              FROM communes_link_check l WHERE l.package_id = p.id) AS links
      FROM package p LEFT JOIN communes_shacl_check s ON s.package_id = p.id
     WHERE p.state = 'active' AND p.type = 'dataset' AND NOT p.private AND p.owner_org = ANY(:orgs)
     ORDER BY p.id""")


def public_evidence_by_org(org_ids: list[str]) -> dict[str, list[mqa.DatasetEvidence]]:
    """The stored MQA evidence (quality/mqa.py's, as read_evidence reads it) of the public active datasets of
    these organisations, by organisation: the bilan's datasets, in ONE query."""
    found: dict[str, list[mqa.DatasetEvidence]] = {}
    for package_id, owner, conforms, facts, links in model.Session.execute(_PUBLIC_EVIDENCE, {"orgs": org_ids}):
        evidence = mqa.DatasetEvidence(package_id, None)
        if isinstance(facts, dict) and "dataset" in facts:
            evidence.facts, evidence.conforms = facts, conforms
        for resource_id, url, checked, ok in links or ():
            evidence.links[resource_id] = (url, ok if checked else None)
        found.setdefault(owner, []).append(evidence)
    return found


def assess_evidence(evidences: list[mqa.DatasetEvidence]) -> dict[str, Any]:
    return mqa.assess(evidences)


def _dataset_ids(context: dict[str, Any], scope: str, data_dict: dict[str, Any]) -> tuple[str | None, list[str]]:
    user = context.get("user")
    if scope == "catalogue":
        return None, visible_dataset_ids(user)
    key = _id(data_dict)
    if scope == "dataset":
        package = model.Package.get(key)
        if package is None or package.state != "active" or package.type != "dataset":
            raise tk.ObjectNotFound(tk._("Dataset not found: \"{value}\".").format(value=_shown(key)))
        tk.check_access("package_show", dict(context), {"id": package.id})
        return package.id, [package.id]
    if scope == "organization":
        org = model.Group.get(key)
        if org is None or not org.is_organization or org.state != "active":
            raise tk.ObjectNotFound(tk._("Organisation not found: \"{value}\".").format(value=_shown(key)))
        return org.id, visible_dataset_ids(user, [org.id])
    group = groups.get_group(key)
    if group is None:
        raise tk.ValidationError({"id": [tk._("{field}: unknown value \"{value}\"; use one of: {choices}.").format(
            field="id", value=_shown(key), choices=", ".join(groups.GROUP_KEYS))]})
    orgs = sql.commune_orgs()
    members = [org.id for insee, org in orgs.items() if group.includes(_partner_status(insee, org))]
    return group.key, visible_dataset_ids(user, members)


def _partner_status(insee: str, org: sql.CommuneOrg) -> str:
    commune = registry.get_commune(insee)
    status = org.extras.get("partner_status") or (commune.phase_2019 if commune else None) or "none"
    return status if status in programme.PARTNER_STATUSES else "none"


@tk.side_effect_free
def communes_mqa(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """data.europa.eu's MQA (quality/mqa.py) of ``scope`` dataset, organization, group (a key of the
    bilan's groups) or catalogue, and ``id`` (not for catalogue), over the datasets the caller may read:
    ``{"scope", "id", "datasets", "distributions", "pending", "points", "max", "rating", "rating_label",
    "dimensions": [...], "missed": [...]}``."""
    tk.check_access("communes_mqa", context, data_dict)
    scope = _scope(data_dict)
    scope_id, package_ids = _dataset_ids(context, scope, data_dict)
    return {"scope": scope, "id": scope_id, **mqa.mqa_of(package_ids)}


@tk.auth_allow_anonymous_access
def communes_mqa_auth(context: dict[str, Any], data_dict: dict[str, Any] | None) -> dict[str, Any]:
    """Anyone: the action counts only the datasets the caller may read."""
    return {"success": True}


def get_actions() -> dict[str, Any]:
    return {"communes_mqa": communes_mqa}


def get_auth_functions() -> dict[str, Any]:
    return {"communes_mqa": communes_mqa_auth}
