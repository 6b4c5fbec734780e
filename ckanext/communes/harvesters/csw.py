"""GeoNetwork catalogue (CSW, ISO 19139) source type (being built)."""

from __future__ import annotations

from collections.abc import Iterator

import ckan.plugins as p

from ckanext.communes.communes.translation import N_
from ckanext.communes.harvesters.base import CommunesHarvester, GatherContext, SourcePage
from ckanext.harvest.interfaces import IHarvester


class CSWHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_csw"
    title = N_("GeoNetwork catalogue (CSW, ISO 19139)")
    description = N_("GeoNetwork catalogue (CSW, ISO 19139)")

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        raise NotImplementedError
