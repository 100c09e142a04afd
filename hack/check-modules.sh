#!/usr/bin/env bash
# Fails fast, with the fix, when the Go modules kybern needs are neither in the module
# cache nor reachable. `go mod download` uses no network when the cache has them all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! out=$(timeout 300 go mod download 2>&1); then
  echo "kybern: the Go modules are not in the cache and could not be downloaded (GOPROXY=$(go env GOPROXY)):" >&2
  echo "$out" | tail -5 >&2
  echo "kybern: make the module proxy reachable, or set GOPROXY/GOFLAGS=-mod=vendor to a source you have, then run make run again" >&2
  exit 1
fi
