#!/usr/bin/env bash
# Lists the packages of one test layer, for the Makefile's test-* targets:
#   unit     no apiserver: table tests and fakes only
#   envtest  a real kube-apiserver and etcd, through test/testenv (a package's table tests
#            run with its suite)
#   e2e      real containers through containerd (test/e2e; root)
# test/bench holds benchmarks only, which make bench runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
layer=${1:?usage: hack/test-packages.sh unit|envtest|e2e}
module=github.com/kybern/kybern
go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
  awk -v layer="$layer" -v m="$module" '
    {
      pkg = $1
      envtest = index($0, " " m "/test/testenv") > 0
      kind = pkg == m "/test/e2e" ? "e2e" : pkg == m "/test/bench" ? "bench" : envtest ? "envtest" : "unit"
      if (kind == layer) print pkg
    }'
