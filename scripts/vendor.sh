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
