#!/bin/sh
# Runs in the ckan container after CKAN's own initialisation: plugin migrations (activity,
# harvest), then the communes of the Métropole (idempotent; keeps operators' edits).
set -e
ckan -c "$CKAN_INI" db upgrade
ckan -c "$CKAN_INI" communes seed
# Configuration keys a source type renamed (issue #18), renamed in the saved sources; idempotent. Exit 1:
# a key still named like a field of the source, which an operator must rename (listed above).
ckan -c "$CKAN_INI" communes harvest migrate-config \
  || echo "WARNING: some harvest source configurations need an operator (see above)." >&2
if [ -z "${CKANEXT__COMMUNES__SECRETS_KEY:-}" ]; then
  echo "WARNING: CKANEXT__COMMUNES__SECRETS_KEY is not set: harvest source passwords cannot be saved" \
       "(see docker/.env.example)." >&2
fi
