"""Harvesting: the places communes already publish, mapped onto our DCAT-AP 3 schema.

Built on ckanext-harvest (sources, jobs, objects, Redis queues, pages, CLI) and ckanext-dcat (RDF
parsing and profiles). ``base.py`` is the shared core; one module per source type (``dcat.py``,
``ckan.py``, ``ods.py``, ``udata.py``, ``csw.py``) turns a remote record into our dataset dict, fetching
through the shared base's guarded HTTP client (``net/fetch.py``); ``routing.py`` finds the commune a
dataset belongs to. On ckanext-harvest's jobs and queues: ``stages.py`` (fetch and import of an object),
``workers.py`` (the queue workers and the periodic runner), ``queues.py`` (its Redis names and the gather
heartbeat), ``stale_jobs.py`` (closing the jobs a dead worker left), ``actions.py`` / ``auth.py`` (its
actions chained); ``credentials.py`` keeps the sources' passwords.
"""
