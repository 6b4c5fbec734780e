"""Harvested High-Value Dataset markers (issue #25 item 4) become hvd_category values: DCAT's
dcatap:hvdCategory (an applicableLegislation 2023/138 without category is kept in harvest_unmapped), udata's
« hvd » tag with its category tags (udata's EU_HVD_CATEGORIES slugs), the CSW record's keywords of the HVD
category thesaurus (http://data.europa.eu/bna/asd487ae75, by anchor or by label). Mappings are data
(harvesters/data/hvd-markers.csv); nothing is invented."""

from __future__ import annotations

import json
import pathlib

import pytest
from lxml import etree

from ckanext.communes.harvesters import csw, udata
from ckanext.communes.harvesters.dcat import CommunesDCATHarvester
from ckanext.communes.harvesters.mapping import map_to_schema
from ckanext.communes.net import safe_rdf

BNA = "http://data.europa.eu/bna"
ADDRESSES = f"{BNA}/c_c3de25e4"
GEOSPATIAL = f"{BNA}/c_ac64a52d"
MOBILITY = f"{BNA}/c_b79e35eb"
EARTH = f"{BNA}/c_dd313021"
HVD_LEGISLATION = "http://data.europa.eu/eli/reg_impl/2023/138/oj"
CSW_RECORD = pathlib.Path(__file__).resolve().parent / "fixtures" / "csw" / "records" / "bron-arbres.xml"

DCAT_PAGE = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix dcatap: <http://data.europa.eu/r5r/> .
<https://data.example.fr/catalog> a dcat:Catalog ; dcat:dataset <https://data.example.fr/d/adresses>,
    <https://data.example.fr/d/hvd-sans-categorie>, <https://data.example.fr/d/budget> .
<https://data.example.fr/d/adresses> a dcat:Dataset ; dct:title "Adresses" ; dct:description "BAL" ;
    dcatap:hvdCategory <http://data.europa.eu/bna/c_c3de25e4>, <http://data.europa.eu/bna/c_ac64a52d> ;
    dcatap:applicableLegislation <http://data.europa.eu/eli/reg_impl/2023/138/oj> .
<https://data.example.fr/d/hvd-sans-categorie> a dcat:Dataset ; dct:title "Sans catégorie" ; dct:description "x" ;
    dcatap:applicableLegislation <http://data.europa.eu/eli/reg_impl/2023/138/oj> .
<https://data.example.fr/d/budget> a dcat:Dataset ; dct:title "Budget" ; dct:description "y" .
"""


def _dcat_datasets() -> dict[str, dict]:
    parser = CommunesDCATHarvester()._parser()
    safe_rdf.parse_rdf(DCAT_PAGE.encode(), "turtle", "https://data.example.fr/catalog.ttl", graph=parser.g)
    return {dataset["title"]: map_to_schema(dataset, "dcat").dataset for dataset in parser.datasets()}


def test_dcat_hvd_categories_are_mapped_and_a_bare_legislation_is_set_aside():
    datasets = _dcat_datasets()
    assert sorted(datasets["Adresses"]["hvd_category"]) == sorted([ADDRESSES, GEOSPATIAL])
    assert not datasets["Budget"].get("hvd_category")
    bare = datasets["Sans catégorie"]
    assert not bare.get("hvd_category")
    assert json.loads(bare["harvest_unmapped"])["hvd_category"] == [HVD_LEGISLATION]


@pytest.mark.parametrize("tags, expected, unmapped", [
    (["hvd", "mobilite", "velo"], [MOBILITY], None),
    (["hvd", "observation-de-la-terre-et-environnement", "geospatiales"], [EARTH, GEOSPATIAL], None),
    (["hvd"], None, ["hvd"]),  # an HVD with no category tag: kept as the source wrote it
    (["mobilite", "velo"], None, None),  # a category tag without « hvd » is a plain keyword for udata too
])
def test_udata_hvd_tag_and_category_tags_are_mapped(tags, expected, unmapped):
    mapped = map_to_schema(udata.map_udata_dataset({"id": "x", "title": "T", "description": "d", "tags": tags}),
                           "udata")
    assert (mapped.dataset.get("hvd_category") or None) == expected
    assert mapped.unmapped.get("hvd_category") == unmapped
    assert "hvd" in [tag["name"] for tag in mapped.dataset["tags"]] or "hvd" not in tags  # udata's tags stay


HVD_KEYWORDS = """
      <gmd:descriptiveKeywords>
        <gmd:MD_Keywords>
          <gmd:keyword>
            <gmx:Anchor xlink:href="http://data.europa.eu/bna/c_c3de25e4">Addresses</gmx:Anchor>
          </gmd:keyword>
          <gmd:keyword>
            <gco:CharacterString>Bâtiments</gco:CharacterString>
          </gmd:keyword>
          <gmd:thesaurusName>
            <gmd:CI_Citation>
              <gmd:title>
                <gmx:Anchor xlink:href="http://data.europa.eu/bna/asd487ae75">High-value dataset categories</gmx:Anchor>
              </gmd:title>
            </gmd:CI_Citation>
          </gmd:thesaurusName>
        </gmd:MD_Keywords>
      </gmd:descriptiveKeywords>
"""


def _csw_dataset(extra_keywords: str) -> dict:
    text = CSW_RECORD.read_text(encoding="utf-8")
    marker = "<gmd:descriptiveKeywords>"
    index = text.index(marker)
    text = text[:index] + extra_keywords + text[index:]
    if "xmlns:gmx" not in text:
        text = text.replace("<gmd:MD_Metadata ", '<gmd:MD_Metadata xmlns:gmx="http://www.isotc211.org/2005/gmx" ', 1)
    if "xmlns:xlink" not in text:
        text = text.replace("<gmd:MD_Metadata ", '<gmd:MD_Metadata xmlns:xlink="http://www.w3.org/1999/xlink" ', 1)
    root = etree.fromstring(text.encode("utf-8"))
    md = root if etree.QName(root).localname == "MD_Metadata" else root.find(".//{*}MD_Metadata")
    return map_to_schema(csw.map_record(md, "https://data.example.fr/csw").dataset, "csw").dataset


def test_csw_keywords_of_the_hvd_thesaurus_are_mapped_by_anchor_and_by_label():
    dataset = _csw_dataset(HVD_KEYWORDS)
    assert dataset["hvd_category"] == [ADDRESSES, f"{BNA}/c_60182062"]
    tags = [tag["name"] for tag in dataset["tags"]]
    assert "Addresses" not in tags  # a category, not a free keyword
    assert "Bâtiments" in tags  # the record's free keyword « Bâtiments » (another block) stays a tag


def test_csw_record_without_the_hvd_thesaurus_has_no_category():
    assert not _csw_dataset("").get("hvd_category")
