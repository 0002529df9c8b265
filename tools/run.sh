#!/usr/bin/env bash
# Quick start: install what is missing (the upload page's npm packages too), build, and run
# ringestd on 127.0.0.1:8080 with its data under ./data; the upload page is at
# http://127.0.0.1:8080/. Extra arguments go to ringestd (e.g. --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh release
exec build/bin/ringestd --listen 127.0.0.1:8080 --data-dir "$PWD/data" "$@"
