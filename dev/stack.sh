#!/usr/bin/env bash
# Local stack for development and tests: PostgreSQL 15, Redis, a real Solr 9.
# No Docker. Each service is started only if it does not already answer, and
# `down` stops only what this script started (marker files under .dev/run).
#
#   dev/stack.sh up        start what is missing, wait until everything answers
#   dev/stack.sh down      stop what we started
#   dev/stack.sh status    say what answers
#   dev/stack.sh solr-up   start Solr only
#   dev/stack.sh solr-build   fetch Solr's jars and compile its launcher (no Python needed: .ci/run runs it beside pip)
#   dev/stack.sh solr-core NAME   make sure a Solr core NAME exists (restarts Solr if it was added)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV="$ROOT/.dev"
RUN="${CKAN_DEV_RUN_DIR:-$DEV/run}"
VENV="${VENV:-$ROOT/.venv}"

PG_PORT="${CKAN_DEV_PG_PORT:-5433}"
PG_USER=ckan_default
PG_PASS=pass
# The suite runs in CKAN_TEST_WORKERS processes (dev/test.sh, pytest-xdist): worker gwK has its own database
# ckan_test_gwK, DataStore database datastore_test_gwK and Solr core ckan_test_gwK
# (ckanext/communes/tests/worker_services.py points it at them).
TEST_WORKERS="${CKAN_TEST_WORKERS:-3}"
test_dbs="ckan_test"; test_stores="ckan_test:datastore_test"; test_cores="ckan_test"
for ((worker = 0; worker < TEST_WORKERS; worker++)); do
  test_dbs+=" ckan_test_gw$worker"; test_stores+=" ckan_test_gw$worker:datastore_test_gw$worker"
  test_cores+=",ckan_test_gw$worker"
done
PG_DATABASES="${CKAN_DEV_PG_DATABASES:-ckan_dev $test_dbs}"
# The DataStore of each CKAN database (CKAN's « DataStore extension » set-up): a database of its own, written by
# the CKAN user, read by a read-only user (datastore_search_sql runs as that user). MAIN:DATASTORE pairs.
PG_DATASTORES="${CKAN_DEV_PG_DATASTORES:-ckan_dev:datastore_dev $test_stores}"
PG_DATASTORE_RO=datastore_ro
REDIS_PORT="${CKAN_DEV_REDIS_PORT:-6390}"
SOLR_PORT="${CKAN_DEV_SOLR_PORT:-8983}"
SOLR_CORES="${CKAN_DEV_SOLR_CORES:-ckan,$test_cores}"
SOLR_HOME="${CKAN_DEV_SOLR_HOME:-$DEV/solr-home}"
SOLR_BUILD="$ROOT/dev/solr/target"

mkdir -p "$RUN"
log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------- PostgreSQL
pg_bin() {
  local b
  for b in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$b/pg_ctl" ] && { echo "$b"; return; }
  done
  die "PostgreSQL server binaries not found (apt-get install postgresql-15)"
}

# postgres refuses to run as root: the cluster belongs to the `postgres` user, so its
# folder must be reachable by that user. A checkout under /root is not: fall back to /var/tmp.
pg_data_dir() {
  local dir="$DEV/pg"
  if [ "$(id -u)" = 0 ] && ! su postgres -s /bin/sh -c "test -x '$DEV'" 2>/dev/null; then
    dir="/var/tmp/ckanext-communes-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)/pg"
  fi
  echo "$dir"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_up() {
  if pg_ready; then log "PostgreSQL already answers on $PG_PORT"; else
    local bin data; bin="$(pg_bin)"; data="$(pg_data_dir)"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$(dirname "$data")" && chmod 755 "$DEV"
    if [ ! -f "$data/PG_VERSION" ]; then
      log "initdb $data"
      as_pg "'$bin/initdb' -D '$data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
    fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "'$bin/pg_ctl' -D '$data' -l '$data/server.log' -w -t 60 \
      -o \"-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start >/dev/null" \
      || { tail -n 20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
    echo "$data" > "$RUN/pg.started"
  fi
  local psql="$(pg_bin)/psql -h 127.0.0.1 -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -qAt"
  if [ "$($psql -c "select 1 from pg_roles where rolname='$PG_USER'")" != 1 ]; then
    $psql -c "create role $PG_USER login password '$PG_PASS'"
  fi
  local db
  for db in $PG_DATABASES; do
    if [ "$($psql -c "select 1 from pg_database where datname='$db'")" != 1 ]; then
      log "creating database $db"
      $psql -c "create database $db owner $PG_USER encoding 'UTF8' template template0"
    fi
  done
  datastore_up
}

# The DataStore databases, their read-only user and CKAN's permissions script (the output of
# `ckan datastore set-permissions`, rendered by the installed CKAN so that it matches its version). Every
# statement of that script can run again: this runs at each start.
datastore_up() {
  local psql="$(pg_bin)/psql -h 127.0.0.1 -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -qAt"
  local py="$VENV/bin/python"
  if [ "$($psql -c "select 1 from pg_roles where rolname='$PG_DATASTORE_RO'")" != 1 ]; then
    $psql -c "create role $PG_DATASTORE_RO login password '$PG_PASS'"
  fi
  local pair main store
  for pair in $PG_DATASTORES; do
    main="${pair%%:*}"; store="${pair#*:}"
    if [ "$($psql -c "select 1 from pg_database where datname='$store'")" != 1 ]; then
      log "creating DataStore database $store (for $main)"
      $psql -c "create database $store owner $PG_USER encoding 'UTF8' template template0"
    fi
    [ -x "$py" ] || die "CKAN is not installed in $VENV: cannot write the DataStore permissions"
    "$py" -c 'import sys; from ckanext.datastore.cli import permissions_sql
print(permissions_sql(maindb=sys.argv[1], datastoredb=sys.argv[2], mainuser=sys.argv[3], writeuser=sys.argv[3],
                      readuser=sys.argv[4]))' "$main" "$store" "$PG_USER" "$PG_DATASTORE_RO" \
      | PGOPTIONS="-c client_min_messages=warning" $psql -d "$store" >/dev/null \
      || die "the DataStore permissions of $store could not be set"
    # CKAN's script takes CONNECT on the main database from the read-only user, but every role has it through
    # PUBLIC: take it from PUBLIC (the owner, CKAN's user, keeps it).
    $psql -c "revoke connect on database $main from public"
  done
}

pg_down() {
  [ -f "$RUN/pg.started" ] || return 0
  local data; data="$(cat "$RUN/pg.started")"
  log "stopping PostgreSQL"
  as_pg "'$(pg_bin)/pg_ctl' -D '$data' -m fast -w stop >/dev/null" || true
  rm -f "$RUN/pg.started"
}

# --------------------------------------------------------------------------- Redis
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

redis_up() {
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  if redis_ready; then log "Redis already answers on $REDIS_PORT"; return; fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log"
  local i; for i in $(seq 1 50); do redis_ready && break; sleep 0.2; done
  redis_ready || die "Redis did not answer on $REDIS_PORT (see $RUN/redis.log)"
  touch "$RUN/redis.started"
}

redis_down() {
  [ -f "$RUN/redis.started" ] || return 0
  log "stopping Redis"
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$RUN/redis.started"
}

# --------------------------------------------------------------------------- Solr
solr_build() {
  # Jars from Maven Central (solr-test-framework pulls solr-core, Jetty, Lucene), then the launcher.
  if [ ! -f "$SOLR_BUILD/lib/.complete" ]; then
    log "fetching Solr 9.10.1 jars from Maven Central (first run only)"
    (cd "$ROOT/dev/solr" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=target/lib -DincludeScope=runtime) \
      || die "mvn could not fetch Solr's jars"
    touch "$SOLR_BUILD/lib/.complete"
  fi
  local src="$ROOT/dev/solr/src/main/java/local/SolrLauncher.java"
  if [ ! -f "$SOLR_BUILD/classes/local/SolrLauncher.class" ] || [ "$src" -nt "$SOLR_BUILD/classes/local/SolrLauncher.class" ]; then
    mkdir -p "$SOLR_BUILD/classes"
    javac -q -nowarn -d "$SOLR_BUILD/classes" -cp "$SOLR_BUILD/lib/*" "$src" 2>/dev/null \
      || javac -d "$SOLR_BUILD/classes" -cp "$SOLR_BUILD/lib/*" "$src" || die "could not compile the Solr launcher"
  fi
}

ckan_schema_xml() {
  local py="$VENV/bin/python"; [ -x "$py" ] || py=python3
  "$py" -c 'import ckan, os; print(os.path.join(os.path.dirname(ckan.__file__), "config", "solr", "schema.xml"))' 2>/dev/null \
    || die "CKAN is not installed in $VENV: cannot find its Solr schema.xml"
}

# ckanext-spatial's bounding-box fields (dev/solr/conf/spatial-fields.xml), inserted before </fields>.
add_spatial_fields() {
  local schema="$1" fields="$ROOT/dev/solr/conf/spatial-fields.xml"
  grep -q 'name="bbox_area" type="double"' "$schema" && return 0
  awk -v fields="$fields" '/<\/fields>/ { while ((getline line < fields) > 0) print line; close(fields) } { print }' \
    "$schema" > "$schema.tmp" && mv "$schema.tmp" "$schema"
  grep -q 'name="bbox_area" type="double"' "$schema" || die "could not add the spatial fields to $schema"
}

# A core built before place search (issue #24) lacks the bounding-box fields: its configuration is renewed
# (CKAN's schema.xml with them); its index then needs `ckan search-index rebuild`.
solr_schema_outdated() {
  local core; for core in ${SOLR_CORES//,/ }; do
    if [ -f "$SOLR_HOME/$core/conf/schema.xml" ] && ! grep -q 'name="bbox_area" type="double"' "$SOLR_HOME/$core/conf/schema.xml"; then
      return 0
    fi
  done
  return 1
}

# A core = core.properties + conf/{schema.xml, solrconfig.xml, synonyms.txt, protwords.txt}.
# schema.xml is CKAN's own, copied from the installed package, so it always matches CKAN's version.
solr_make_core() {
  local name="$1" schema; schema="$(ckan_schema_xml)"
  [ -f "$schema" ] || die "CKAN's Solr schema not found at $schema"
  mkdir -p "$SOLR_HOME/$name/conf"
  if [ ! -f "$SOLR_HOME/$name/core.properties" ]; then
    echo "name=$name" > "$SOLR_HOME/$name/core.properties"
    # A test core's index lives in memory: the suite empties it anyway, and a commit (one per dataset saved,
    # solr_commit = true in test.ini) then writes no file and syncs nothing to disk: 2 to 3 times faster.
    case "$name" in *test*) printf '%s\n' solr.directoryFactory=solr.ByteBuffersDirectoryFactory solr.lock.type=single \
      solr.ulog.enable=false >> "$SOLR_HOME/$name/core.properties" ;; esac
  fi
  cp "$schema" "$SOLR_HOME/$name/conf/schema.xml"
  add_spatial_fields "$SOLR_HOME/$name/conf/schema.xml"
  cp "$ROOT/dev/solr/conf/solrconfig.xml" "$SOLR_HOME/$name/conf/solrconfig.xml"
  touch "$SOLR_HOME/$name/conf/synonyms.txt" "$SOLR_HOME/$name/conf/protwords.txt"
}

solr_ready() {
  local core="${1:-${SOLR_CORES%%,*}}"
  curl -fsS -m 5 "http://127.0.0.1:$SOLR_PORT/solr/$core/select?q=*:*&rows=0" >/dev/null 2>&1
}

solr_all_ready() {
  local core; for core in ${SOLR_CORES//,/ }; do solr_ready "$core" || return 1; done
}

solr_up() {
  if solr_schema_outdated; then
    local core; for core in ${SOLR_CORES//,/ }; do
      if [ -d "$SOLR_HOME/$core/conf" ]; then solr_make_core "$core"; fi
    done
    log "Solr cores given the bounding-box fields of place search: run \`ckan search-index rebuild\`"
    # A Solr we started has the old schema loaded: restart it (one we did not start is left alone).
    if [ -f "$RUN/solr.pid" ]; then solr_down; fi
  fi
  if solr_all_ready; then log "Solr already answers on $SOLR_PORT (cores $SOLR_CORES)"; return; fi
  if curl -fsS -m 5 "http://127.0.0.1:$SOLR_PORT/solr/admin/info/system" >/dev/null 2>&1; then
    # A Solr we started earlier with fewer cores: restart it with the full list.
    [ -f "$RUN/solr.pid" ] || die "a Solr not started by this script answers on $SOLR_PORT without cores $SOLR_CORES"
    solr_down
  fi
  command -v java >/dev/null || die "java not found (a JDK 17 is needed for Solr)"
  solr_build
  mkdir -p "$SOLR_HOME"
  [ -f "$SOLR_HOME/solr.xml" ] || echo "<solr></solr>" > "$SOLR_HOME/solr.xml"
  local core; for core in ${SOLR_CORES//,/ }; do
    # Build a core only where none exists, so a broken core is reported, not silently repaired.
    [ -d "$SOLR_HOME/$core/conf" ] || solr_make_core "$core"
  done
  log "starting Solr 9 on 127.0.0.1:$SOLR_PORT (cores $SOLR_CORES)"
  nohup java -Xms256m -Xmx1g -Dsolr.log.dir="$RUN" -Dlog4j2.configurationFile="$ROOT/dev/solr/log4j2.xml" \
    -Dsolr.install.dir="$SOLR_HOME" \
    -cp "$SOLR_BUILD/classes:$SOLR_BUILD/lib/*" local.SolrLauncher "$SOLR_HOME" "$SOLR_PORT" "$SOLR_CORES" \
    > "$RUN/solr.log" 2>&1 &
  echo $! > "$RUN/solr.pid"
  local pid; pid="$(cat "$RUN/solr.pid")"
  local i; for i in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$RUN/solr.pid"
      grep -E "SOLR CORE (FAILED|MISSING)" "$RUN/solr.log" >&2 || tail -n 30 "$RUN/solr.log" >&2
      die "Solr did not start: a core is broken (full log: $RUN/solr.log)"
    fi
    solr_all_ready && { touch "$RUN/solr.started"; log "Solr ready"; return; }
    sleep 0.5
  done
  solr_down
  die "Solr did not answer within 120 s (see $RUN/solr.log)"
}

solr_down() {
  [ -f "$RUN/solr.pid" ] || return 0
  local pid; pid="$(cat "$RUN/solr.pid")"
  log "stopping Solr"
  kill "$pid" 2>/dev/null || true
  local i; for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$RUN/solr.pid" "$RUN/solr.started"
}

# --------------------------------------------------------------------------- main
case "${1:-up}" in
  up) pg_up; redis_up; solr_up ;;
  solr-up) solr_up ;;
  solr-build) solr_build ;;
  down) solr_down; redis_down; pg_down ;;
  status)
    pg_ready && log "PostgreSQL: up ($PG_PORT)" || log "PostgreSQL: down"
    redis_ready && log "Redis: up ($REDIS_PORT)" || log "Redis: down"
    solr_all_ready && log "Solr: up ($SOLR_PORT, $SOLR_CORES)" || log "Solr: down" ;;
  solr-core)
    name="${2:?core name}"
    [ -d "$SOLR_HOME/$name/conf" ] && { log "Solr core $name exists"; exit 0; }
    solr_make_core "$name"; log "Solr core $name created; restart Solr with it listed in CKAN_DEV_SOLR_CORES" ;;
  *) die "usage: $0 up|down|status|solr-up|solr-build|solr-core NAME" ;;
esac
