#!/usr/bin/env bash
# The project's private PostgreSQL + PostGIS cluster under instance/pgdata.
#
#   scripts/db.sh start            initialise (once) and start the cluster
#   scripts/db.sh stop             stop it
#   scripts/db.sh status           say whether it runs
#   scripts/db.sh createdb NAME    create role "kim" and database NAME with postgis + pg_trgm
#   scripts/db.sh replica-start    make (once, by pg_basebackup from the primary on KIM_PG_PRIMARY_PORT)
#                                  and start a streaming hot standby in KIM_PG_DATA on KIM_PG_PORT
#   scripts/db.sh replica-drop     stop the standby, delete it and its replication slot on the primary
#
# KIM_PG_DATA (default instance/pgdata) chooses the cluster's directory, so one checkout can run
# several clusters (make cluster: a primary and its replica under instance/cluster/).
#
# The cluster listens on 127.0.0.1 only, on KIM_PG_PORT (default 54329), with no Unix socket,
# so it never collides with a system PostgreSQL. initdb refuses to run as root, so when this
# script is run by root the cluster belongs to the "postgres" system user.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
port=${KIM_PG_PORT:-54329}
pgdata=${KIM_PG_DATA:-$here/instance/pgdata}
pgbin=${KIM_PG_BIN:-/usr/lib/postgresql/15/bin}
logfile="$pgdata/server.log"

die() { echo "db.sh: $*" >&2; exit 1; }

[ -x "$pgbin/pg_ctl" ] || die "PostgreSQL 15 not found in $pgbin (install postgresql-15 postgresql-15-postgis-3, or run 'make run' as root)"

as_owner() {
    # Run a command as the cluster's owner: postgres when we are root, ourselves otherwise.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

make_traversable() {
    # The postgres user must be able to reach instance/pgdata; a checkout under a private
    # temporary directory (mktemp -d is 0700) is not. Grant only search (o+x) where needed.
    local dir
    dir=$(dirname "$pgdata")
    mkdir -p "$dir"
    while [ "$dir" != "/" ]; do
        if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
            echo "db.sh: granting search permission (o+x) on $dir so the postgres user can reach the cluster"
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
}

running() { as_owner "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }

port_taken() {
    python3 - "$port" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

init_cluster() {
    mkdir -p "$pgdata"
    chmod 700 "$pgdata"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' system user: install postgresql-15"
        chown postgres:postgres "$pgdata"
        make_traversable
    fi
    echo "db.sh: initialising a new cluster in $pgdata"
    as_owner "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null
    # Durability stays at PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on).
    as_owner tee -a "$pgdata/postgresql.conf" >/dev/null <<'CONF'

# kim-platform private cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 256MB
max_connections = 100
timezone = 'UTC'
log_timezone = 'UTC'
CONF
}

start() {
    [ -f "$pgdata/PG_VERSION" ] || init_cluster
    [ "$(id -u)" = 0 ] && make_traversable
    if running; then
        echo "db.sh: cluster already running on port $port"
        return 0
    fi
    if port_taken; then
        die "port $port is taken by another program; set KIM_PG_PORT to a free port (e.g. KIM_PG_PORT=54330 make run)"
    fi
    as_owner "$pgbin/pg_ctl" -D "$pgdata" -l "$logfile" -o "-p $port" -w -t 60 start >/dev/null \
        || { tail -n 20 "$logfile" >&2 || true; die "PostgreSQL did not start (log: $logfile)"; }
    echo "db.sh: cluster started on 127.0.0.1:$port"
}

stop() {
    if running; then
        as_owner "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
        echo "db.sh: cluster stopped"
    else
        echo "db.sh: cluster not running"
    fi
}

# Like a power cut: no checkpoint, the next start replays the WAL (crash-safety tests).
crash() {
    running || die "cluster not running"
    as_owner "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null
    echo "db.sh: cluster stopped with -m immediate"
}

psql_su() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

createdb() {
    local name=$1
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad database name: $name"
    running || die "cluster not running: scripts/db.sh start"
    if [ -z "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'kim'")" ]; then
        psql_su -d postgres -c "CREATE ROLE kim LOGIN"
    fi
    if [ -z "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
        psql_su -d postgres -c "CREATE DATABASE $name OWNER kim"
        echo "db.sh: created database $name"
    fi
    # Extensions need a superuser; the app itself connects as the unprivileged owner "kim".
    psql_su -d "$name" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm;"
}

# A hot standby of the primary on KIM_PG_PRIMARY_PORT, streaming through a physical replication
# slot (the primary keeps the WAL the standby has not received, so a standby stopped for a while
# catches up when it starts again). -R writes primary_conninfo and standby.signal.
replica_slot() { echo "kim_replica_$port"; }

replica_start() {
    local primary=${KIM_PG_PRIMARY_PORT:?set KIM_PG_PRIMARY_PORT to the primary port}
    if [ ! -f "$pgdata/PG_VERSION" ]; then
        mkdir -p "$pgdata"
        chmod 700 "$pgdata"
        if [ "$(id -u)" = 0 ]; then
            id postgres >/dev/null 2>&1 || die "no 'postgres' system user: install postgresql-15"
            chown postgres:postgres "$pgdata"
            make_traversable
        fi
        local slot
        slot=$(replica_slot)
        PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$primary" -U postgres -d postgres -tAc \
            "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null
        echo "db.sh: copying the primary on port $primary into $pgdata (pg_basebackup)"
        as_owner "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$pgdata" \
            -X stream -C -S "$slot" -R -c fast \
            -d "host=127.0.0.1 port=$primary user=postgres application_name=kim-replica-$port" \
            || die "pg_basebackup from port $primary failed"
        as_owner tee -a "$pgdata/postgresql.conf" >/dev/null <<'CONF'

# kim-platform hot standby
hot_standby = on
hot_standby_feedback = on
max_standby_streaming_delay = 5s
CONF
    fi
    start
}

replica_drop() {
    stop
    local primary=${KIM_PG_PRIMARY_PORT:?set KIM_PG_PRIMARY_PORT to the primary port} slot
    slot=$(replica_slot)
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$primary" -U postgres -d postgres -tAc \
        "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null || true
    rm -rf "$pgdata"
    echo "db.sh: replica removed"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    crash) crash ;;
    status) if running; then echo "running on port $port"; else echo "not running"; exit 3; fi ;;
    replica-start) replica_start ;;
    replica-drop) replica_drop ;;
    createdb) [ -n "${2:-}" ] || die "usage: db.sh createdb NAME"; createdb "$2" ;;
    *) die "usage: db.sh start|stop|crash|status|createdb NAME|replica-start|replica-drop" ;;
esac
