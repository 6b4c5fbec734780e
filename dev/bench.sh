#!/usr/bin/env bash
# Benchmarks (not tests): each prints a ratio against a baseline measured in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"
# The DataStore database next to the CKAN database the environment names (as dev/test.sh).
if [ -n "${CKAN_SQLALCHEMY_URL:-}" ] && [ -z "${CKAN_DATASTORE_WRITE_URL:-}" ]; then
  server="${CKAN_SQLALCHEMY_URL#*@}"; server="${server%/*}"
  export CKAN_DATASTORE_WRITE_URL="${CKAN_SQLALCHEMY_URL%/*}/datastore_test"
  export CKAN_DATASTORE_READ_URL="postgresql://datastore_ro:pass@$server/datastore_test"
fi
"$VENV/bin/ckan" -c test.ini db init >/dev/null
"$VENV/bin/ckan" -c test.ini db upgrade >/dev/null
"$VENV/bin/python" dev/bench/schema_and_catalogue.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/harvest.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/quality.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/linkcheck.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/sources.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/bilan.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/quality_backlog.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/quality_backlog.py --ckan-ini test.ini --backlog
"$VENV/bin/python" dev/bench/licences.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/mqa.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/datastore.py --ckan-ini test.ini
"$VENV/bin/python" dev/bench/place_search.py --ckan-ini test.ini
