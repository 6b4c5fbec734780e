"""Harvesting: the places communes already publish, mapped onto our DCAT-AP 3 schema.

Built on ckanext-harvest (sources, jobs, objects, Redis queues, pages, CLI) and ckanext-dcat (RDF
parsing and profiles). ``base.py`` is the shared core; one module per source type turns a remote record
into our dataset dict; ``fetch.py`` is the guarded HTTP client; ``routing.py`` finds the commune a
dataset belongs to.
"""
