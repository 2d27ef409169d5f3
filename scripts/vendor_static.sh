#!/usr/bin/env bash
# Vendors the front-end libraries from the npm registry into static/vendor/, each with
# its licence. Run it to upgrade; the result is committed, so running the app never
# needs npm or a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP=5.3.9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "bootstrap@$BOOTSTRAP" >/dev/null && tar xzf bootstrap-$BOOTSTRAP.tgz)
dest=static/vendor/bootstrap
rm -rf "$dest" && mkdir -p "$dest"
cp "$tmp/package/dist/css/bootstrap.min.css" "$tmp/package/dist/js/bootstrap.bundle.min.js" "$tmp/package/LICENSE" "$dest/"
# The source maps are not shipped; their references would break collectstatic.
sed -i "/sourceMappingURL=/d" "$dest"/*.js "$dest"/*.css
echo "bootstrap $BOOTSTRAP (MIT) from the npm registry" > "$dest/VERSION"
echo "vendored into static/vendor/"
