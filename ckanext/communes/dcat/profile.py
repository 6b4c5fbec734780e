"""Our DCAT-AP 3 profile, on top of ckanext-dcat's euro_dcat_ap_3."""

from __future__ import annotations

from ckanext.dcat.profiles.base import RDFProfile


class CommunesDCATAP3Profile(RDFProfile):
    """Placeholder until the DCAT work lands."""
