#!/usr/bin/env bash
# Puts kube-apiserver, etcd and kubectl for envtest into a cache directory outside the clone
# and prints that directory, for KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)
#
# It tries controller-runtime's setup-envtest download first; where that fails (no
# internet), it builds the three from Go modules: hack/envtest holds tiny main packages
# around the upstream commands. Progress goes to stderr, the directory alone to stdout.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.37.1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kybern/envtest
DIR=$CACHE/$KUBE_VERSION
BINS=(kube-apiserver etcd kubectl)

complete() {
  local b
  for b in "${BINS[@]}"; do [[ -x $1/$b ]] || return 1; done
}

if complete "$DIR"; then
  echo "$DIR"
  exit 0
fi

command -v go >/dev/null || { echo "setup-envtest: go is not on PATH; install Go 1.26 or add /usr/local/go/bin to PATH" >&2; exit 1; }
mkdir -p "$CACHE"
# One builder at a time: a second caller waits here, then finds the directory complete.
exec 9>"$CACHE/.lock"
flock 9
if complete "$DIR"; then
  echo "$DIR"
  exit 0
fi

STAGE=$(mktemp -d "$CACHE/.stage-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

download() {
  echo "setup-envtest: trying the envtest $KUBE_VERSION download" >&2
  local path
  path=$(GOFLAGS= timeout 120 go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest \
    use "$KUBE_VERSION" --bin-dir "$STAGE/download" -p path 2>/dev/null) || return 1
  [[ -n $path ]] && complete "$path" || return 1
  cp "$path"/* "$STAGE/"
}

build() {
  echo "setup-envtest: download unavailable; building from Go modules (kube-apiserver takes about 8 minutes on 2 cores, once)" >&2
  # Chained with &&: errexit does not apply inside a function called from `||`.
  (cd "$ROOT/hack/envtest" && go build -o "$STAGE/kube-apiserver" ./kube-apiserver) &&
    (cd "$ROOT/hack/envtest" && go build -o "$STAGE/kubectl" ./kubectl) &&
    (cd "$ROOT/hack/envtest/etcd" && go build -o "$STAGE/etcd" .)
}

if ! download; then
  build || { echo "setup-envtest: building the envtest binaries failed; is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))?" >&2; exit 1; }
fi
rm -rf "$STAGE/download"
complete "$STAGE" || { echo "setup-envtest: $STAGE lacks one of ${BINS[*]}" >&2; exit 1; }
rm -rf "$DIR"
mv "$STAGE" "$DIR"
trap - EXIT
echo "setup-envtest: envtest binaries ready in $DIR" >&2
echo "$DIR"
