"""Test data used across the test folders: EU vocabulary URIs and a commune profile."""

from __future__ import annotations

EU = "http://publications.europa.eu/resource/authority"
ENVI = f"{EU}/data-theme/ENVI"
REGI = f"{EU}/data-theme/REGI"
TRAN = f"{EU}/data-theme/TRAN"
ANNUAL = f"{EU}/frequency/ANNUAL"
FRA = f"{EU}/language/FRA"
ENG = f"{EU}/language/ENG"
PUBLIC = f"{EU}/access-right/PUBLIC"
RESTRICTED = f"{EU}/access-right/RESTRICTED"
CSV = f"{EU}/file-type/CSV"
GEOJSON = f"{EU}/file-type/GEOJSON"

# The organisation of Bron with the profile fields that dataset defaults come from.
BRON = {
    "name": "bron",
    "title": "Bron",
    "insee_code": "69029",
    "siren": "216900290",
    "kind": "commune",
    "official_name": "Commune de Bron",
    "referent_name": "Camille Martin",
    "referent_email": "opendata@ville-bron.fr",
}
