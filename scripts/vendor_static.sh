#!/usr/bin/env bash
# Vendors the front-end libraries from the npm registry into static/vendor/, each with
# its licence. Run it to upgrade; the result is committed, so running the app never
# needs npm or a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP=5.3.9
CHARTJS=4.6.1
CYTOSCAPE=3.35.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# vendor NAME VERSION DEST FILE... : files are paths inside the npm package.
vendor() {
  local name=$1 version=$2 dest=$3
  shift 3
  rm -rf "$tmp/package"
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null && tar xzf "$(ls "$tmp"/*.tgz | head -1)" && rm -f "$tmp"/*.tgz)
  rm -rf "$dest" && mkdir -p "$dest"
  for file in "$@"; do cp "$tmp/package/$file" "$dest/"; done
  # The source maps are not shipped; their references would break collectstatic.
  sed -i "/sourceMappingURL=/d" "$dest"/*.js
  [ -n "$(ls "$dest"/*.css 2>/dev/null)" ] && sed -i "/sourceMappingURL=/d" "$dest"/*.css
  echo "$name $version (MIT) from the npm registry" > "$dest/VERSION"
}

vendor bootstrap "$BOOTSTRAP" static/vendor/bootstrap \
  dist/css/bootstrap.min.css dist/js/bootstrap.bundle.min.js LICENSE
vendor chart.js "$CHARTJS" static/vendor/chartjs dist/chart.umd.min.js LICENSE.md
vendor cytoscape "$CYTOSCAPE" static/vendor/cytoscape dist/cytoscape.min.js LICENSE
echo "vendored into static/vendor/"
