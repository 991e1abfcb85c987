#!/usr/bin/env bash
# Fetch the front-end libraries we serve from static/vendor/ out of the npm registry.
# The results are committed: pages must work without internet (base-map tiles aside).
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFLET_VERSION=1.9.4
VECTORGRID_VERSION=1.3.0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "leaflet@$LEAFLET_VERSION" >/dev/null && tar xzf leaflet-$LEAFLET_VERSION.tgz)
rm -rf static/vendor/leaflet
mkdir -p static/vendor/leaflet
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$tmp/package/LICENSE" static/vendor/leaflet/
cp -r "$tmp/package/dist/images" static/vendor/leaflet/
echo "leaflet $LEAFLET_VERSION" > static/vendor/leaflet/VERSION
echo "vendored leaflet $LEAFLET_VERSION"

(cd "$tmp" && rm -rf package && npm pack --silent "leaflet.vectorgrid@$VECTORGRID_VERSION" >/dev/null \
    && tar xzf leaflet.vectorgrid-$VECTORGRID_VERSION.tgz)
rm -rf static/vendor/leaflet.vectorgrid
mkdir -p static/vendor/leaflet.vectorgrid
cp "$tmp/package/dist/Leaflet.VectorGrid.bundled.min.js" static/vendor/leaflet.vectorgrid/
# The package ships no licence file; its package.json says BSD-3-Clause.
grep -o '"license": *"[^"]*"' "$tmp/package/package.json" > static/vendor/leaflet.vectorgrid/LICENSE
echo "leaflet.vectorgrid $VECTORGRID_VERSION" > static/vendor/leaflet.vectorgrid/VERSION
echo "vendored leaflet.vectorgrid $VECTORGRID_VERSION"

# Workbox (the offline app's service worker): workbox-sw loads the module builds it is told to
# from /static/vendor/workbox/ (setConfig modulePathPrefix in templates/sw.js), never a CDN.
WORKBOX_VERSION=7.4.1
WORKBOX_MODULES="core routing strategies precaching expiration"
rm -rf static/vendor/workbox
mkdir -p static/vendor/workbox
(cd "$tmp" && rm -rf package && npm pack --silent "workbox-sw@$WORKBOX_VERSION" >/dev/null \
    && tar xzf workbox-sw-$WORKBOX_VERSION.tgz)
cp "$tmp/package/build/workbox-sw.js" "$tmp/package/LICENSE" static/vendor/workbox/
for module in $WORKBOX_MODULES; do
    (cd "$tmp" && rm -rf package && npm pack --silent "workbox-$module@$WORKBOX_VERSION" >/dev/null \
        && tar xzf workbox-$module-$WORKBOX_VERSION.tgz)
    cp "$tmp/package/build/workbox-$module.prod.js" static/vendor/workbox/
done
echo "workbox $WORKBOX_VERSION (workbox-sw; $WORKBOX_MODULES: prod builds)" > static/vendor/workbox/VERSION
echo "vendored workbox $WORKBOX_VERSION"

# idb, a small promise wrapper around IndexedDB (the outbox): its UMD build defines window.idb
# (self.idb in the service worker).
IDB_VERSION=8.0.4
(cd "$tmp" && rm -rf package && npm pack --silent "idb@$IDB_VERSION" >/dev/null && tar xzf idb-$IDB_VERSION.tgz)
rm -rf static/vendor/idb
mkdir -p static/vendor/idb
cp "$tmp/package/build/umd.js" "$tmp/package/LICENSE" static/vendor/idb/
echo "idb $IDB_VERSION" > static/vendor/idb/VERSION
echo "vendored idb $IDB_VERSION"
