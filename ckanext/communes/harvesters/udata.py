"""data.gouv.fr (udata) organisation source type (being built)."""

from __future__ import annotations

from collections.abc import Iterator

import ckan.plugins as p

from ckanext.communes.communes.translation import N_
from ckanext.communes.harvesters.base import CommunesHarvester, GatherContext, SourcePage
from ckanext.harvest.interfaces import IHarvester


class UdataHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_udata"
    title = N_("data.gouv.fr (udata) organisation")
    description = N_("data.gouv.fr (udata) organisation")

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        raise NotImplementedError
