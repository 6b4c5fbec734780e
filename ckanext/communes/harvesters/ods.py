"""Opendatasoft portal source type (being built)."""

from __future__ import annotations

from collections.abc import Iterator

import ckan.plugins as p

from ckanext.communes.communes.translation import N_
from ckanext.communes.harvesters.base import CommunesHarvester, GatherContext, SourcePage
from ckanext.harvest.interfaces import IHarvester


class OpendatasoftHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_ods"
    title = N_("Opendatasoft portal")
    description = N_("Opendatasoft portal")

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        raise NotImplementedError
