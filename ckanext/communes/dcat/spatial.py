"""Spatial coverage in DCAT-AP 3: each ``dct:Location`` of a dataset, written and read.

Writing (after ckanext-dcat's ``euro_dcat_ap_3`` has written one Location per ``spatial_coverage`` entry, and
one for the editor's ``spatial`` extent):

- ``locn:geometry`` is a ``locn:Geometry`` node carrying the geometry as ``gsp:asWKT`` (a ``gsp:wktLiteral``,
  WGS84, full precision), never a literal: the DCAT-AP 3.0.1 shapes (``dcat-ap-3.0.1-SHACL.ttl``) want a node of
  that class (range changed from rdfs:Literal to locn:Geometry with DCAT 3, SEMICeu/DCAT-AP#247), while
  ckanext-dcat 2.4.4 writes a literal rounded to 4 decimals. An unreadable or invalid geometry is left out;
- ``dcat:bbox`` and ``dcat:centroid`` (``gsp:wktLiteral``, one each, as the shapes allow): a commune's or an
  arrondissement's from the registry's geometry file, else computed from the Location's geometry or stored box.
  data.gouv.fr's reader (udata ``spatial_from_rdf``) reads the literals directly on a Location, so it gets
  ``dcat:bbox`` (a Polygon); it skips the centroid's Point with a log line, and does not look inside a node.
  The centroid stays: DCAT-AP 3's recommended shapes ask for it.

Reading (our DCAT harvester, and any parse of our own catalogues): one ``spatial_coverage`` entry per Location
(URI, label, geometry, box, centroid), the geometry read from a literal or a node (``gsp:asWKT``,
``gsp:asGeoJSON``, ``locn:geometry``, ``rdf:value``), WKT or GeoJSON; geometries are kept as the source wrote
them when they cannot be read, so the harvest mapping refuses them with a reason for the report. ckanext-dcat's
own reader of Locations fails on a node (``BNode.datatype``) and on GeoJSON nested deep enough to exhaust the
recursion limit, and reads every Location of a dataset into one entry: a graph it is about to read goes through
``detach_geometries`` first, which takes every geometry out of its sight, and ``parse_locations`` (from our
profile's ``parse_dataset``) reads them back.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from rdflib import BNode, Literal, Namespace, URIRef
from rdflib.term import Node

from ckanext.communes import geo, uris
from ckanext.dcat.profiles import DCAT, DCT, GSP, RDF, RDFS, SKOS

LOCN = Namespace("http://www.w3.org/ns/locn#")
GEOJSON_LITERAL = GSP.geoJSONLiteral
IANA_GEOJSON = URIRef("https://www.iana.org/assignments/media-types/application/vnd.geo+json")
# Where a geometry node carries its serialisation: GeoSPARQL's, then what sources are seen to use.
GEOMETRY_SERIALISATIONS = (GSP.asWKT, GSP.asGeoJSON, LOCN.geometry, RDF.value)
# Subfields of a spatial_coverage entry, by the predicate of a Location that carries them.
GEOMETRY_FIELDS = {LOCN.geometry: "geom", DCAT.bbox: "bbox", DCAT.centroid: "centroid"}


def commune_geometry(uri: str) -> Any:
    """The registry's geometry (box, centroid) of the commune or arrondissement an INSEE URI names."""
    code = uris.insee_code_from_spatial_uri(uri)
    if not code:
        return None
    from ckanext.communes.communes.registry import get_commune_geometry

    return get_commune_geometry(code)


# ------------------------------------------------------------------------------------------ writing

def _as_written_by_ckanext_dcat(geometry: Any) -> str | None:
    """The WKT literal ckanext-dcat writes for a stored GeoJSON geometry (4 decimals), to find the stored value
    back; None when it writes none."""
    from geomet import wkt

    try:
        value = json.loads(geometry) if isinstance(geometry, str) else geometry
        return wkt.dumps(value, decimals=4) if isinstance(value, dict) else None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None


def _stored_geometries(dataset_dict: dict[str, Any]) -> dict[str, str]:
    """What ckanext-dcat wrote -> the stored geometry it came from (the editor's extent, each entry's ``geom``)."""
    stored = [dataset_dict.get("spatial")]
    coverage = dataset_dict.get("spatial_coverage")
    stored += [entry.get("geom") for entry in coverage if isinstance(entry, dict)] if isinstance(coverage, list) else []
    found: dict[str, str] = {}
    for geometry in stored:
        if isinstance(geometry, str) and geometry.strip() and len(geometry) <= geo.MAX_GEOMETRY_CHARS:
            written = _as_written_by_ckanext_dcat(geometry)
            if written:
                found.setdefault(written, geometry)
    return found


def _wkt_of(text: str) -> str | None:
    """Full-precision WKT of a readable, valid geometry (GeoJSON or WKT text); None otherwise."""
    import shapely

    try:
        shape = geo.read_extent(text)
    except geo.GeometryProblem:
        return None
    return shapely.to_wkt(shape, rounding_precision=-1)


def _add_geometry_node(graph: Any, location: Node, wkt_text: str) -> None:
    node = BNode()
    graph.add((location, LOCN.geometry, node))
    graph.add((node, RDF.type, LOCN.Geometry))
    graph.add((node, GSP.asWKT, Literal(wkt_text, datatype=GSP.wktLiteral)))


def complete_locations(graph: Any, dataset_ref: Node, dataset_dict: dict[str, Any]) -> None:
    """Each Location of the dataset with its geometry as a locn:Geometry node, its dcat:bbox and dcat:centroid
    (see the module's docstring)."""
    stored: dict[str, str] | None = None
    for location in list(graph.objects(dataset_ref, DCT.spatial)):
        if isinstance(location, Literal):
            continue
        geometry_wkt = None
        for value in list(graph.objects(location, LOCN.geometry)):
            if not isinstance(value, Literal):
                geometry_wkt = geometry_wkt or next(
                    (str(v) for v in graph.objects(value, GSP.asWKT) if isinstance(v, Literal)), None)
                continue
            graph.remove((location, LOCN.geometry, value))
            if geometry_wkt is None:
                if stored is None:
                    stored = _stored_geometries(dataset_dict)
                geometry_wkt = _wkt_of(stored.get(str(value), str(value)))
                if geometry_wkt is not None and not any(graph.objects(location, LOCN.geometry)):
                    _add_geometry_node(graph, location, geometry_wkt)
        _complete_box_and_centroid(graph, location, geometry_wkt)


def _complete_box_and_centroid(graph: Any, location: Node, geometry_wkt: str | None) -> None:
    has_bbox = (location, DCAT.bbox, None) in graph
    has_centroid = (location, DCAT.centroid, None) in graph
    if has_bbox and has_centroid:
        return
    registry = commune_geometry(str(location)) if isinstance(location, URIRef) else None
    if registry is not None:
        bbox_value, centroid_value = registry.bbox_wkt, registry.centroid_wkt
    else:
        source = next((str(v) for v in graph.objects(location, DCAT.bbox)), None) or geometry_wkt or next(
            (str(v) for v in graph.objects(location, DCAT.centroid)), None)
        bbox = geo.bbox_of_wkt(source) if source and len(source) <= geo.MAX_GEOMETRY_CHARS else None
        if bbox is None:
            return
        bbox_value, centroid_value = geo.bbox_wkt(bbox), geo.centre_wkt(bbox)
    if not has_bbox:
        graph.add((location, DCAT.bbox, Literal(bbox_value, datatype=GSP.wktLiteral)))
    if not has_centroid:
        graph.add((location, DCAT.centroid, Literal(centroid_value, datatype=GSP.wktLiteral)))


# ------------------------------------------------------------------------------------------ reading

# id(graph) -> (weak reference to the graph, Location -> subfield -> the texts detached from it).
_DETACHED: dict[int, tuple[weakref.ref[Any], dict[Node, dict[str, list[str]]]]] = {}


def _literal_text(graph: Any, value: Node, depth: int = 0) -> str | None:
    """The text of a geometry value: a literal's, or the first serialisation a geometry node carries."""
    if isinstance(value, Literal):
        return str(value)
    if depth > 2:
        return None
    for predicate in GEOMETRY_SERIALISATIONS:
        for inner in graph.objects(value, predicate):
            text = _literal_text(graph, inner, depth + 1)
            if text:
                return text
    return None


def detach_geometries(graph: Any) -> None:
    """Take every geometry of every dct:Location out of ``graph`` (for ckanext-dcat's reader, which fails on some
    of them) and keep them for ``parse_locations``, for as long as the graph lives."""
    detached: dict[Node, dict[str, list[str]]] = {}
    for location in set(graph.subjects(RDF.type, DCT.Location)) | set(graph.objects(None, DCT.spatial)):
        if isinstance(location, Literal):
            continue
        for predicate, name in GEOMETRY_FIELDS.items():
            for value in list(graph.objects(location, predicate)):
                graph.remove((location, predicate, value))
                text = _literal_text(graph, value)
                if text:
                    detached.setdefault(location, {}).setdefault(name, []).append(text)
    key = id(graph)

    def forget(ref: weakref.ref[Any]) -> None:
        if _DETACHED.get(key, (None,))[0] is ref:
            _DETACHED.pop(key, None)

    _DETACHED[key] = (weakref.ref(graph, forget), detached)


def _detached_of(graph: Any) -> dict[Node, dict[str, list[str]]] | None:
    entry = _DETACHED.get(id(graph))
    return entry[1] if entry is not None and entry[0]() is graph else None


def _geojson_text(text: str) -> str:
    """GeoJSON text of a geometry written in WKT or GeoJSON, even an invalid one (the harvest mapping checks it);
    the text as written when it cannot be read at all (or is longer than any extent: the mapping says so)."""
    from geomet import wkt

    stripped = text.strip()
    if stripped.startswith("{") or len(stripped) > geo.MAX_GEOMETRY_CHARS:
        return text
    try:
        return json.dumps(wkt.loads(stripped.upper()))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return text


def parse_locations(graph: Any, dataset_ref: Node, dataset_dict: dict[str, Any]) -> None:
    """``spatial_coverage``: one entry per Location of the dataset, with its geometries (see the docstring)."""
    detached = _detached_of(graph)
    entries = []
    for location in graph.objects(dataset_ref, DCT.spatial):
        if isinstance(location, Literal):
            entries.append({"text": str(location)})
            continue
        entry: dict[str, str] = {}
        if isinstance(location, URIRef):
            entry["uri"] = str(location)
        label = graph.value(location, SKOS.prefLabel) or graph.value(location, RDFS.label)
        if label is not None:
            entry["text"] = str(label)
        if detached is not None:
            texts = detached.get(location, {})
        else:
            texts = {name: [t for t in (_literal_text(graph, v) for v in graph.objects(location, predicate)) if t]
                     for predicate, name in GEOMETRY_FIELDS.items()}
        for name in ("geom", "bbox", "centroid"):
            if texts.get(name):
                entry[name] = texts[name][0]
        if entry.get("geom"):
            entry["geom"] = _geojson_text(entry["geom"])
        if commune_geometry(entry.get("uri") or "") is not None:
            # The box and centroid our profile adds to a commune's territory are the registry's, not stored.
            entry.pop("bbox", None)
            entry.pop("centroid", None)
        if entry:
            entries.append(entry)
    if entries:
        dataset_dict["spatial_coverage"] = entries
        # ckanext-dcat's reader copies a Location's geometry to ckanext-spatial's ``spatial`` too: the entry has it.
        dataset_dict.pop("spatial", None)
