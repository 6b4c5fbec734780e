#!/bin/sh
# Runs in the ckan container after CKAN's own initialisation: plugin migrations (activity,
# harvest), then the communes of the Métropole (idempotent; keeps operators' edits).
set -e
ckan -c "$CKAN_INI" db upgrade
ckan -c "$CKAN_INI" communes seed
