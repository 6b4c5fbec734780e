"""The Data API: CKAN's DataStore filled by ckanext-xloader 2.6.0 (issue #23), its downloads through the
guarded client of the shared base (loader_guard.py), the load status on the resource page (helpers.py).

A room between dcat/ and schema/: it uses only the shared base, so that the DCAT profile (a DataService for a
loaded resource) and the checks above can ask it."""
