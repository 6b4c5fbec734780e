"""The programme's assessment ("bilan", deliberation 2019-3364): indicators per commune and per
phase computed in bulk (Solr JSON facets and SQL aggregates), snapshots frozen in a table of ours,
the public page /communes/bilan with charts and exports, each commune's dashboard, and the API."""
