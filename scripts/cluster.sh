#!/usr/bin/env bash
# The multi-node topology of issue 21 on this one machine, everything under instance/cluster/:
# a PostgreSQL primary and its streaming replica, a pgbouncer in front of each, Redis, the S3 server
# (when scripts/s3.sh exists), two gunicorn app nodes, the job worker (when `flask jobs worker`
# exists) and nginx as the load balancer. README "Running a cluster on one machine".
#
#   scripts/cluster.sh start [PIECE]     start everything (in order) or one piece
#   scripts/cluster.sh stop [PIECE]      stop everything (in reverse order) or one piece; data stays
#   scripts/cluster.sh restart PIECE     stop and start one piece (node-a/node-b: drained first)
#   scripts/cluster.sh status            which pieces answer
#   scripts/cluster.sh env node-a        the environment of a node (to run `flask` as that node)
#
# PIECE: primary replica bouncer bouncer-replica redis s3 node-a node-b worker nginx.
# Every step is idempotent: a second start reuses the data and leaves running pieces alone.
# Ports (all on 127.0.0.1) come from the environment, defaults from the cluster contract. Those of
# pieces the fault tests stop and start again lie outside Linux's ephemeral range (32768-60999): a
# client socket of the running load may otherwise hold the port when the server binds it again.
#   KIM_CLUSTER_PG_PORT 61341, KIM_CLUSTER_REPLICA_PORT 61342, KIM_CLUSTER_BOUNCER_PORT 64341,
#   KIM_CLUSTER_BOUNCER_REPLICA_PORT 64342, KIM_CLUSTER_REDIS_PORT 63341, KIM_CLUSTER_NODE_A_PORT 5341,
#   KIM_CLUSTER_NODE_B_PORT 5342, KIM_CLUSTER_S3_PORT 5343, KIM_CLUSTER_HTTP_PORT 8341;
#   KIM_CLUSTER_DIR (instance/cluster), KIM_CLUSTER_WORKERS (gunicorn workers per node, 2),
#   KIM_CLUSTER_POOL_SIZE (pgbouncer default_pool_size, 8: measured, README),
#   KIM_CLUSTER_DEMO_KIMS / KIM_CLUSTER_DEMO_ACTIVITIES (5000 / 50000; 0 KIMs: no demo set).
#   KIM_CLUSTER_JOB_LEASE_S (45), KIM_CLUSTER_POST_LIMITS_ADDRESS (100000 per hour) and
#   KIM_CLUSTER_MAX_REPORTS_PER_DAY (100000): one machine's load comes from one address and posts
#   with the same accounts run after run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${KIM_CLUSTER_DIR:-$here/instance/cluster}
pg_port=${KIM_CLUSTER_PG_PORT:-61341}
replica_port=${KIM_CLUSTER_REPLICA_PORT:-61342}
bouncer_port=${KIM_CLUSTER_BOUNCER_PORT:-64341}
bouncer_replica_port=${KIM_CLUSTER_BOUNCER_REPLICA_PORT:-64342}
redis_port=${KIM_CLUSTER_REDIS_PORT:-63341}
node_a_port=${KIM_CLUSTER_NODE_A_PORT:-5341}
node_b_port=${KIM_CLUSTER_NODE_B_PORT:-5342}
s3_port=${KIM_CLUSTER_S3_PORT:-5343}
http_port=${KIM_CLUSTER_HTTP_PORT:-8341}
workers=${KIM_CLUSTER_WORKERS:-2}
pool_size=${KIM_CLUSTER_POOL_SIZE:-8}
demo_kims=${KIM_CLUSTER_DEMO_KIMS:-5000}
demo_activities=${KIM_CLUSTER_DEMO_ACTIVITIES:-50000}
max_body=${KIM_MAX_CONTENT_LENGTH:-104857600}
bin=$here/.venv/bin
pgbin=${KIM_PG_BIN:-/usr/lib/postgresql/15/bin}
PIECES=(primary replica bouncer bouncer-replica redis s3 node-a node-b worker nginx)

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh [${SECONDS}s]: $*"; }
is_root() { [ "$(id -u)" = 0 ]; }

# pgbouncer refuses to run as root, and reads what the postgres user may read.
as_service_user() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_open() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

http_ok() {
    # 0 when GET http://127.0.0.1:$1$2 answers 200.
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=3) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

wait_for() {
    # wait_for SECONDS DESCRIPTION COMMAND...: poll the command every 0.2 s.
    local seconds=$1 what=$2
    shift 2
    local tries=$((seconds * 5))
    for _ in $(seq "$tries"); do
        "$@" && return 0
        sleep 0.2
    done
    die "$what did not answer within ${seconds}s"
}

# Alive and not a zombie: a process killed with SIGKILL whose parent (init here) has not reaped it
# yet still answers kill -0, and must not count as a running piece.
pid_alive() {
    [ -f "$1" ] || return 1
    local pid
    pid=$(cat "$1")
    kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]
}

stop_pid() {
    # stop_pid PIDFILE NAME [SIGNAL]: signal the process and wait (up to 40 s) until it is gone.
    local pidfile=$1 name=$2 signal=${3:-TERM} pid
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        say "$name not running"
        return 0
    fi
    pid=$(cat "$pidfile")
    kill "-$signal" "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "$name stopped"; return 0; }
        sleep 0.2
    done
    die "$name (pid $pid) did not stop"
}

pg() { KIM_PG_DATA=$dir/$1 KIM_PG_PORT=$2 "${@:3}"; }

# ---------------------------------------------------------------- PostgreSQL

start_primary() {
    mkdir -p "$dir"
    pg primary "$pg_port" "$here/scripts/db.sh" start
    pg primary "$pg_port" "$here/scripts/db.sh" createdb kim >/dev/null
}

data_stamp() {
    # What the loaded data depends on: the migrations, the seed data, the demo set's size, and the
    # primary itself (a cluster made again has a new PG_VERSION file).
    { find "$here/migrations/versions" "$here/seed_data" -type f -printf '%P %s %T@\n' | sort
      stat -c '%i %Y' "$dir/primary/PG_VERSION"
      echo "demo $demo_kims $demo_activities"; } | sha256sum | cut -c1-16
}

load_data() {
    # Migrations and data straight on the primary, never through pgbouncer: Alembic and the loaders
    # hold session state (locks, temporary tables) that transaction pooling would not keep.
    # Skipped when nothing they depend on changed since the last load (KIM_CLUSTER_RELOAD=1 forces
    # it): each loader is a no-op then, but six app start-ups cost a minute on a busy 2-core box.
    local stamp_file=$dir/primary-data.stamp stamp
    stamp=$(data_stamp)
    if [ "${KIM_CLUSTER_RELOAD:-0}" != 1 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
        say "data already loaded (migrations, seed data and demo size unchanged)"
        return 0
    fi
    say "loading migrations, regions and the demo set into the primary"
    local url="postgresql+psycopg2://kim@127.0.0.1:$pg_port/kim?application_name=kim-setup"
    # The demo's photos go where the nodes read them (the S3 bucket, or the shared folder).
    local storage
    mapfile -t storage < <(node_env kim-setup | grep -E '^KIM_(STORAGE|S3_|UPLOAD_DIR)')
    has_s3 || mkdir -p "$dir/uploads"
    local flask=(env "${storage[@]}" DATABASE_URL="$url" KIM_PG_PORT="$pg_port" PYTHONPATH="$here" "$bin/flask" --app kim_platform)
    (
        cd "$here"
        "${flask[@]}" db upgrade
        "${flask[@]}" regions load
        "${flask[@]}" bidang load
        "${flask[@]}" activities load-types
        "${flask[@]}" maps prepare
        if [ "$demo_kims" -gt 0 ]; then
            "${flask[@]}" demo generate --kims "$demo_kims" --activities "$demo_activities" --seed 1 --if-empty
        fi
    ) 2>&1 | sed 's/^/    /' || die "loading the data failed"
    echo "$stamp" >"$stamp_file"
}

start_replica() {
    pg replica "$replica_port" env KIM_PG_PRIMARY_PORT="$pg_port" "$here/scripts/db.sh" replica-start
}

stop_primary() { pg primary "$pg_port" "$here/scripts/db.sh" stop; }
stop_replica() { pg replica "$replica_port" "$here/scripts/db.sh" stop; }

# ---------------------------------------------------------------- pgbouncer

bouncer_conf() {
    # bouncer_conf NAME LISTEN_PORT SERVER_PORT: write instance/cluster/NAME/pgbouncer.ini from
    # deploy/pgbouncer.ini (the production file, its placeholders filled).
    local name=$1 listen=$2 server=$3 folder=$dir/$1
    mkdir -p "$folder"
    # Loopback only, no password (auth_type trust): production uses scram-sha-256 and an auth_file.
    printf '"kim" ""\n"postgres" ""\n' >"$folder/userlist.txt"
    python3 "$here/deploy/render.py" "$here/deploy/pgbouncer.ini" "$folder/pgbouncer.ini" \
        LISTEN_ADDR=127.0.0.1 LISTEN_PORT="$listen" SERVER_HOST=127.0.0.1 SERVER_PORT="$server" \
        AUTH_TYPE=trust AUTH_FILE="$folder/userlist.txt" POOL_SIZE="$pool_size" \
        LOGFILE="$folder/pgbouncer.log" PIDFILE="$folder/pgbouncer.pid"
    is_root && chown -R postgres:postgres "$folder"
    return 0
}

start_bouncer_named() {
    local name=$1 listen=$2 server=$3
    if pid_alive "$dir/$name/pgbouncer.pid" && port_open "$listen"; then
        say "$name already running on port $listen"
        return 0
    fi
    port_open "$listen" && die "port $listen is taken by another program (KIM_CLUSTER_BOUNCER*_PORT)"
    bouncer_conf "$name" "$listen" "$server"
    as_service_user /usr/sbin/pgbouncer -q -d "$dir/$name/pgbouncer.ini" \
        || { tail -n 20 "$dir/$name/pgbouncer.log" >&2 || true; die "$name did not start"; }
    wait_for 10 "$name" port_open "$listen"
    say "$name started on 127.0.0.1:$listen -> $server (transaction pooling, pool $pool_size)"
}

start_bouncer() { start_bouncer_named bouncer "$bouncer_port" "$pg_port"; }
start_bouncer_replica() { start_bouncer_named bouncer-replica "$bouncer_replica_port" "$replica_port"; }
# SIGINT: "safe shutdown", waits for the transactions in flight; SIGTERM would cut them.
stop_bouncer() { stop_pid "$dir/bouncer/pgbouncer.pid" bouncer INT; }
stop_bouncer_replica() { stop_pid "$dir/bouncer-replica/pgbouncer.pid" bouncer-replica INT; }

# ---------------------------------------------------------------- Redis, S3

start_redis() { KIM_REDIS_PORT=$redis_port KIM_REDIS_DIR=$dir/redis "$here/scripts/redis.sh" start; }
stop_redis() { KIM_REDIS_PORT=$redis_port KIM_REDIS_DIR=$dir/redis "$here/scripts/redis.sh" stop; }

has_s3() { [ -x "$here/scripts/s3.sh" ]; }
start_s3() {
    if has_s3; then KIM_S3_PORT=$s3_port KIM_S3_DIR=$dir/s3 "$here/scripts/s3.sh" start
    else say "no scripts/s3.sh: nodes share the local folder $dir/uploads instead of S3"; fi
}
stop_s3() { if has_s3; then KIM_S3_PORT=$s3_port KIM_S3_DIR=$dir/s3 "$here/scripts/s3.sh" stop; fi; }

# ---------------------------------------------------------------- app nodes and worker

secret_key() {
    # One SECRET_KEY for every node (sessions and CSRF tokens signed by A are valid on B).
    local file=$dir/secret_key
    if [ ! -s "$file" ]; then
        mkdir -p "$dir"
        (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' >"$file")
    fi
    cat "$file"
}

node_env() {
    # node_env APPLICATION_NAME [NODE_NAME]: the environment of one app process, one per line.
    local app=$1 node=${2:-}
    cat <<ENV
DATABASE_URL=postgresql+psycopg2://kim@127.0.0.1:$bouncer_port/kim?application_name=$app
KIM_REPLICA_DATABASE_URL=postgresql+psycopg2://kim@127.0.0.1:$bouncer_replica_port/kim?application_name=$app
KIM_REDIS_URL=redis://127.0.0.1:$redis_port/0
KIM_RATELIMIT_STORAGE_URI=redis://127.0.0.1:$redis_port/1
KIM_PROXY_COUNT=1
KIM_BASE_URL=http://127.0.0.1:$http_port
SECRET_KEY=$(secret_key)
KIM_MAIL_OUTBOX=$dir/mail
KIM_MAX_CONTENT_LENGTH=$max_body
KIM_JOB_LEASE_SECONDS=${KIM_CLUSTER_JOB_LEASE_S:-45}
KIM_POST_LIMITS_ADDRESS=${KIM_CLUSTER_POST_LIMITS_ADDRESS:-100000 per hour}
KIM_MAX_REPORTS_PER_DAY=${KIM_CLUSTER_MAX_REPORTS_PER_DAY:-100000}
KIM_JOB_POLL_SECONDS=5
PYTHONPATH=$here
ENV
    [ -n "$node" ] && echo "KIM_NODE_NAME=$node"
    if has_s3; then
        cat <<ENV
KIM_STORAGE=s3
KIM_S3_ENDPOINT_URL=http://127.0.0.1:$s3_port
KIM_S3_BUCKET=kim
KIM_S3_ACCESS_KEY_ID=kim-cluster
KIM_S3_SECRET_ACCESS_KEY=kim-cluster-secret
KIM_S3_REGION=us-east-1
ENV
    else
        echo "KIM_UPLOAD_DIR=$dir/uploads"
    fi
}

node_port() { case $1 in a) echo "$node_a_port" ;; b) echo "$node_b_port" ;; esac; }

start_node() {
    local id=$1 port folder=$dir/node-$1
    port=$(node_port "$id")
    if pid_alive "$folder/gunicorn.pid" && http_ok "$port" /healthz; then
        say "node-$id already running on port $port"
        return 0
    fi
    port_open "$port" && die "port $port is taken by another program (KIM_CLUSTER_NODE_${id^^}_PORT)"
    mkdir -p "$folder" "$dir/mail"
    has_s3 || mkdir -p "$dir/uploads"
    local environment
    mapfile -t environment < <(node_env "kim-$id" "kim-$id")
    # The access log names the address nginx forwarded (X-Forwarded-For) beside the peer's. A
    # control socket of its own: gunicorn's default (~/.gunicorn/gunicorn.ctl) is one per user.
    (cd "$here" && env "${environment[@]}" "$bin/gunicorn" --workers "$workers" --worker-class sync \
        --bind "127.0.0.1:$port" --daemon --pid "$folder/gunicorn.pid" \
        --error-logfile "$folder/error.log" --access-logfile "$folder/access.log" \
        --access-logformat '%(h)s fwd=%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms' \
        --control-socket "$folder/gunicorn.ctl" --graceful-timeout 30 'kim_platform:create_app()')
    wait_for 60 "node-$id (port $port, log $folder/error.log)" http_ok "$port" /healthz
    say "node-$id started on 127.0.0.1:$port ($workers workers)"
}

stop_node() { stop_pid "$dir/node-$1/gunicorn.pid" "node-$1"; }

has_worker() {
    (cd "$here" && PYTHONPATH=$here "$bin/flask" --app kim_platform jobs worker --help >/dev/null 2>&1)
}

start_worker() {
    local folder=$dir/worker
    if pid_alive "$folder/worker.pid"; then say "worker already running"; return 0; fi
    if ! has_worker; then say "no 'flask jobs worker' in this checkout: no job worker"; return 0; fi
    mkdir -p "$folder"
    local environment
    mapfile -t environment < <(node_env kim-worker)
    # setsid: its own session, so stopping the shell that started it leaves it running. setsid may
    # fork, so the pid is written by the process that then becomes the worker (exec keeps the pid):
    # the fault tests SIGKILL exactly that process.
    rm -f "$folder/worker.pid"
    # The whole chain's output goes to the log, so no process keeps the caller's stdout open (a
    # caller reading it, as the tests do, would wait for the worker to exit).
    (cd "$here" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$folder/worker.pid" \
        env "${environment[@]}" "$bin/flask" --app kim_platform jobs worker) >>"$folder/worker.log" 2>&1 </dev/null &
    for _ in $(seq 50); do [ -s "$folder/worker.pid" ] && break; sleep 0.1; done
    sleep 1
    pid_alive "$folder/worker.pid" || { tail -n 20 "$folder/worker.log" >&2; die "the worker exited"; }
    say "worker started (pid $(cat "$folder/worker.pid"), log $folder/worker.log)"
}

stop_worker() {
    # SIGTERM: the worker finishes (or gives back) its current job before it exits.
    stop_pid "$dir/worker/worker.pid" worker
}

# ---------------------------------------------------------------- nginx

nginx_conf() {
    # instance/cluster/nginx.conf: the main context for a private nginx, around deploy/nginx-kim.conf
    # (the production site file) with its placeholders filled. DRAIN names a node to mark `down`.
    local drain=${1:-} prefix=$dir/nginx servers="" id
    mkdir -p "$prefix/logs" "$prefix/cache/photos" "$prefix/temp" "$dir/public/static"
    for id in a b; do
        local line="server 127.0.0.1:$(node_port "$id") max_fails=1 fail_timeout=5s"
        [ "$drain" = "node-$id" ] && line="$line down"
        servers="$servers    $line;"$'\n'
    done
    python3 "$here/deploy/render.py" "$here/deploy/nginx-kim.conf" "$prefix/site.conf" \
        LISTEN="127.0.0.1:$http_port" SERVER_NAME=127.0.0.1 UPSTREAM_SERVERS="$servers" \
        STATIC_ROOT="$dir/public" CACHE_DIR="$prefix/cache/photos" MAX_BODY="$max_body"
    local user=""
    is_root && user="user www-data;"
    cat >"$dir/nginx.conf" <<CONF
# Generated by scripts/cluster.sh: the site is deploy/nginx-kim.conf with its placeholders filled.
$user
worker_processes 1;
# An old worker left after a reload is closed after this long, whatever it still holds.
worker_shutdown_timeout 45s;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $prefix/logs/access.log;
    client_body_temp_path $prefix/temp/body;
    proxy_temp_path $prefix/temp/proxy;
    fastcgi_temp_path $prefix/temp/fastcgi;
    uwsgi_temp_path $prefix/temp/uwsgi;
    scgi_temp_path $prefix/temp/scgi;
    sendfile on;
    include $prefix/site.conf;
}
CONF
    is_root && chown -R www-data "$prefix/cache" "$prefix/temp"
    return 0
}

export_static() {
    # The static files under their hashed names, as the app names them (core/assets.py).
    (cd "$here" && PYTHONPATH=$here KIM_PG_PORT=$pg_port "$bin/flask" --app kim_platform static export "$dir/public/static") \
        | sed 's/^/    /'
}

run_nginx() { /usr/sbin/nginx -p "$dir/nginx/" -c "$dir/nginx.conf" "$@"; }

start_nginx() {
    if pid_alive "$dir/nginx/nginx.pid" && port_open "$http_port"; then
        say "nginx already running on port $http_port"
        return 0
    fi
    port_open "$http_port" && die "port $http_port is taken by another program (KIM_CLUSTER_HTTP_PORT)"
    export_static
    nginx_conf
    run_nginx -t -q || die "nginx refused $dir/nginx.conf"
    run_nginx
    wait_for 10 nginx http_ok "$http_port" /healthz
    say "nginx started on 127.0.0.1:$http_port (log $dir/nginx/logs/)"
}

stop_nginx() { stop_pid "$dir/nginx/nginx.pid" nginx QUIT; }

reload_nginx() {
    # reload_nginx [DRAIN]: new workers take the new upstream list; old ones finish their requests.
    # Returns once every old worker has exited: until then an old worker still holds requests it
    # sent to the node being drained, queued behind the node's busy sync workers, and stopping the
    # node would reset them (a POST answered 502 in the 50-client soak after a fixed 1 s wait).
    local master old pid
    pid_alive "$dir/nginx/nginx.pid" || return 0
    master=$(cat "$dir/nginx/nginx.pid")
    old=$(ps -o pid= --ppid "$master" 2>/dev/null | tr -s ' \n' ' ')
    nginx_conf "${1:-}"
    run_nginx -t -q || die "nginx refused $dir/nginx.conf"
    run_nginx -s reload 2>/dev/null
    for _ in $(seq 300); do  # up to 60 s; nginx's worker_shutdown_timeout bounds it at 45 s
        local left=""
        for pid in $old; do
            [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$master" ] && left="$left $pid"
        done
        [ -z "$left" ] && return 0
        sleep 0.2
    done
    say "nginx: old workers$left still running after 60 s"
}

restart_node() {
    # Taken out of nginx first, so no request is sent to it while it stops: a POST nginx has
    # already sent is never retried elsewhere (proxy_next_upstream), and would be lost to the client.
    local id=$1
    reload_nginx "node-$id"
    stop_node "$id"
    start_node "$id"
    reload_nginx
}

# ---------------------------------------------------------------- dispatch

start_piece() {
    case $1 in
        primary) start_primary ;;
        replica) start_replica ;;
        bouncer) start_bouncer ;;
        bouncer-replica) start_bouncer_replica ;;
        redis) start_redis ;;
        s3) start_s3 ;;
        node-a) start_node a ;;
        node-b) start_node b ;;
        worker) start_worker ;;
        nginx) start_nginx ;;
        *) die "unknown piece: $1 (${PIECES[*]})" ;;
    esac
}

stop_piece() {
    case $1 in
        primary) stop_primary ;;
        replica) stop_replica ;;
        bouncer) stop_bouncer ;;
        bouncer-replica) stop_bouncer_replica ;;
        redis) stop_redis ;;
        s3) stop_s3 ;;
        node-a) stop_node a ;;
        node-b) stop_node b ;;
        worker) stop_worker ;;
        nginx) stop_nginx ;;
        *) die "unknown piece: $1 (${PIECES[*]})" ;;
    esac
}

check_tools() {
    local missing=""
    for tool in /usr/sbin/pgbouncer /usr/sbin/nginx /usr/bin/redis-server "$pgbin/pg_ctl" "$bin/gunicorn"; do
        [ -x "$tool" ] || missing="$missing $tool"
    done
    [ -z "$missing" ] || die "missing:$missing (make cluster installs pgbouncer, nginx, redis-server as root)"
}

start_all() {
    check_tools
    local started=$SECONDS piece
    start_primary
    start_s3  # before the data: the demo set's photos are stored in it
    load_data
    for piece in "${PIECES[@]:1}"; do [ "$piece" = s3 ] || start_piece "$piece"; done
    say "cluster up in $((SECONDS - started))s"
    status
}

stop_all() {
    local i
    for ((i = ${#PIECES[@]} - 1; i >= 0; i--)); do stop_piece "${PIECES[$i]}"; done
}

status() {
    local state
    line() { printf '  %-16s %-22s %s\n' "$1" "$2" "$3"; }
    state() { if "$@" >/dev/null 2>&1; then echo up; else echo down; fi; }
    line primary "127.0.0.1:$pg_port" "$(state pg primary "$pg_port" "$here/scripts/db.sh" status)"
    line replica "127.0.0.1:$replica_port" "$(state pg replica "$replica_port" "$here/scripts/db.sh" status)"
    line bouncer "127.0.0.1:$bouncer_port" "$(state port_open "$bouncer_port")"
    line bouncer-replica "127.0.0.1:$bouncer_replica_port" "$(state port_open "$bouncer_replica_port")"
    line redis "127.0.0.1:$redis_port" "$(state port_open "$redis_port")"
    if has_s3; then line s3 "127.0.0.1:$s3_port" "$(state port_open "$s3_port")"
    else line storage "$dir/uploads" "local (no scripts/s3.sh)"; fi
    line node-a "127.0.0.1:$node_a_port" "$(state http_ok "$node_a_port" /healthz)"
    line node-b "127.0.0.1:$node_b_port" "$(state http_ok "$node_b_port" /healthz)"
    line worker "" "$(state pid_alive "$dir/worker/worker.pid")"
    line nginx "http://127.0.0.1:$http_port" "$(state http_ok "$http_port" /healthz)"
}

case "${1:-}" in
    start) if [ -n "${2:-}" ]; then start_piece "$2"; else start_all; fi ;;
    stop) if [ -n "${2:-}" ]; then stop_piece "$2"; else stop_all; fi ;;
    restart)
        [ -n "${2:-}" ] || die "usage: cluster.sh restart PIECE"
        case $2 in
            node-a) restart_node a ;;
            node-b) restart_node b ;;
            *) stop_piece "$2"; start_piece "$2" ;;
        esac ;;
    status) status ;;
    env) node_env "kim-${2#node-}" "kim-${2#node-}" ;;
    *) die "usage: cluster.sh start|stop [PIECE] | restart PIECE | status | env node-a (pieces: ${PIECES[*]})" ;;
esac
