#!/bin/sh
# The start-up of every container of docker-compose.yml, the web and each worker alike (the image's
# ENTRYPOINT; the service's command comes as arguments):
#   1. refuses to start on a missing or empty secret, naming it;
#   2. writes the plugin list and every CKAN__*, CKANEXT__*, CKAN___* option of the environment into
#      $CKAN_INI (ckanext-envvars' naming: CKAN__A__B -> ckan.a.b, CKANEXT__A__B -> ckanext.a.b,
#      CKAN___A__B -> a.b), and CKAN_SECRET_KEY as SECRET_KEY; CKAN itself reads CKAN_SQLALCHEMY_URL,
#      CKAN_SOLR_URL, CKAN_REDIS_URL, CKAN_SITE_URL, CKAN_SMTP_* ... from the environment at every start;
#   3. waits for PostgreSQL, Solr and Redis;
#   4. the DataStore's database and read-only user, CKAN's permissions on it (startup.py datastore); then
#      `ckan communes startup`: under a PostgreSQL advisory lock (containers start together), the
#      migrations (core, activity, harvest, communes), the sysadmin, the communes, the loader's API token
#      (idempotent);
#   5. execs the command.
# The base image's own start-up (start_ckan.sh, prerun.py, /docker-entrypoint.d) is not run: it initialises
# the database with the image's plugin list before our configuration is written.
# `make test` runs this same script against the local stack (ckanext/communes/tests/test_docker_startup.py).
set -eu

CKAN_INI="${CKAN_INI:-/srv/app/ckan.ini}"
export CKAN_INI
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3}"

say() { printf 'entrypoint: %s\n' "$*" >&2; }
die() { printf 'entrypoint: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "no command given (each service's command is in docker/docker-compose.yml)."

# 1. What a container cannot start without. Secrets come from the environment (docker/.env), never the image.
missing=0
for name in CKAN_SECRET_KEY CKANEXT__COMMUNES__SECRETS_KEY CKAN_SYSADMIN_PASSWORD CKAN_SYSADMIN_NAME \
            CKAN_SYSADMIN_EMAIL CKAN_SITE_URL CKAN__PLUGINS CKAN_SQLALCHEMY_URL CKAN_SOLR_URL CKAN_REDIS_URL; do
  eval "value=\${$name:-}"
  # shellcheck disable=SC2154 # set by the eval
  if [ -z "$(printf '%s' "$value" | tr -d ' \t')" ]; then
    printf 'entrypoint: ERROR: %s is missing or empty: set it in docker/.env (see docker/.env.example).\n' \
      "$name" >&2
    missing=1
  fi
done
if [ -z "${CKAN_SECRET_KEY:-}" ] && [ -n "${CKAN___BEAKER__SESSION__SECRET:-}" ]; then
  say "CKAN___BEAKER__SESSION__SECRET is no longer read by CKAN 2.12: name it CKAN_SECRET_KEY."
fi
[ "$missing" = 0 ] || die "not starting."

# 2. The configuration (the checks that need Python too: the key's format, the plugin list, the database password).
"$PYTHON" "$HERE/startup.py" check
merge="$(mktemp)"
trap 'rm -f "$merge"' EXIT
chmod 600 "$merge"
"$PYTHON" "$HERE/startup.py" options > "$merge"
ckan config-tool "$CKAN_INI" -f "$merge" > /dev/null
rm -f "$merge"
trap - EXIT

# 3. The services, and the DataStore's database and read-only user (CKAN's datastore plugin refuses to load
#    without them).
"$PYTHON" "$HERE/startup.py" wait
"$PYTHON" "$HERE/startup.py" datastore

# 4. The database, once whatever the number of containers starting.
ckan -c "$CKAN_INI" communes startup

# 5. The service.
say "starting: $*"
exec "$@"
