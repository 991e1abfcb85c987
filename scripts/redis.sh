#!/usr/bin/env bash
# The project's own Redis (Debian's redis-server) under instance/, like scripts/db.sh for PostgreSQL.
#
#   scripts/redis.sh start    start it (127.0.0.1 only, on KIM_REDIS_PORT, default 56379)
#   scripts/redis.sh stop     stop it (SHUTDOWN: the append-only file is flushed first)
#   scripts/redis.sh status   say whether it runs
#
# KIM_REDIS_DIR (default instance/redis) holds its append-only file, log and pid, so the job queue
# survives a restart (appendfsync everysec: at most a second of enqueued jobs, which the job table
# re-enqueues anyway). No password: it listens on loopback only; production settings are in deploy/.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
port=${KIM_REDIS_PORT:-56379}
dir=${KIM_REDIS_DIR:-$here/instance/redis}
server=${KIM_REDIS_SERVER:-/usr/bin/redis-server}

die() { echo "redis.sh: $*" >&2; exit 1; }

ping() { python3 - "$port" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

start() {
    [ -x "$server" ] || die "redis-server not found (install Debian's redis-server, or run make as root)"
    if ping; then
        echo "redis.sh: already running on port $port"
        return 0
    fi
    mkdir -p "$dir"
    "$server" --port "$port" --bind 127.0.0.1 --protected-mode yes --dir "$dir" \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --save "" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction >/dev/null
    for _ in $(seq 50); do
        ping && { echo "redis.sh: started on 127.0.0.1:$port"; return 0; }
        sleep 0.1
    done
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis-server did not start (log: $dir/redis.log)"
}

stop() {
    if ping; then
        python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"SHUTDOWN\r\n")
try:
    s.recv(16)
except OSError:
    pass
PY
        for _ in $(seq 50); do ping || { echo "redis.sh: stopped"; return 0; }; sleep 0.1; done
        die "redis-server on port $port did not stop"
    else
        echo "redis.sh: not running"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if ping; then echo "running on port $port"; else echo "not running"; exit 3; fi ;;
    *) die "usage: redis.sh start|stop|status" ;;
esac
