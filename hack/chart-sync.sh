#!/usr/bin/env bash
# Copies the generated CRDs, RBAC and cluster policies, and the node agent's systemd unit, into the Helm chart, which may read
# no file outside its directory: make manifests runs it, and make verify fails when the
# committed copies differ from config/, so that the chart never drifts from what the
# markers generate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
chart=charts/kybern
rm -rf "$chart/crds" "$chart/files"
mkdir -p "$chart/crds" "$chart/files/rbac/node-agent" "$chart/files/cluster" "$chart/files/systemd"
go run ./hack/crdfix -chart config/crd/bases "$chart/crds"
cp config/rbac/role.yaml config/rbac/metrics_reader_role.yaml "$chart/files/rbac/"
cp config/rbac/node-agent/*.yaml "$chart/files/rbac/node-agent/"
cp config/cluster/node-lease-namespace.yaml config/cluster/node-restriction.yaml config/cluster/metrics-reader.yaml config/cluster/shared-storageclass.yaml "$chart/files/cluster/"
cp config/systemd/kybern-node-agent.service "$chart/files/systemd/"
