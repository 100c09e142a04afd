#!/usr/bin/env bash
# Lists the packages of one test layer, for the Makefile's test-* targets:
#   unit     no apiserver: table tests and fakes only
#   envtest  a real kube-apiserver and etcd: tests that import test/testenv or read
#            KUBEBUILDER_ASSETS themselves (a package's table tests run with its suite)
#   e2e      real containers through containerd (test/e2e, test/faults, test/helm; root)
# test/bench holds benchmarks only, which make bench runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
layer=${1:?usage: hack/test-packages.sh unit|envtest|e2e}
module=github.com/kybern/kybern
go list -f '{{.ImportPath}} {{.Dir}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
  while read -r pkg dir imports; do
    case $pkg in
      "$module/test/e2e" | "$module/test/faults" | "$module/test/helm") kind=e2e ;;
      "$module/test/bench") kind=bench ;;
      *)
        if [[ " $imports " == *" $module/test/testenv "* ]] ||
          grep -qs KUBEBUILDER_ASSETS "$dir"/*_test.go; then
          kind=envtest
        else
          kind=unit
        fi
        ;;
    esac
    [[ $kind == "$layer" ]] && echo "$pkg"
  done
exit 0
