#!/usr/bin/env bash
# Installs what ringest needs to build, run and test, from Debian 12's packages (and npm for
# the end-to-end client). Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(g++ cmake make pkg-config liburing-dev node-llhttp libmimalloc-dev libgtest-dev
          libbenchmark-dev libssl-dev libisal-dev libcurl4-openssl-dev curl procps python3 util-linux
          nlohmann-json3-dev liblmdb-dev
          clang libclang-rt-14-dev)
packages+=(chromium)  # the browser tests (tests/browser) drive Debian's chromium
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages, versions pinned by each package-lock.json: the upload page's widgets (ui/, which
# ringestd serves) and the browser tests' driver (tests/browser). Installed again only when the
# lock file changed since the last install.
root=$(cd "$(dirname "$0")/.." && pwd)
npm_ci() {
  local dir=$root/$1
  if cmp -s "$dir/package-lock.json" "$dir/node_modules/.ringest-installed-lock"; then return; fi
  echo "setup: npm ci in $1"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$dir/node_modules/.ringest-installed-lock"
}
npm_ci ui
npm_ci tests/browser
