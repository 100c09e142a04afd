#!/usr/bin/env bash
# The foreground part of `make run`: the manager and a node agent against $KUBECONFIG, until
# Ctrl-C. As root it first installs what real containers need (hack/node-deps.sh: apt on
# Debian) and the offline busybox image, then runs the pods as real containers with an
# embedded containerd. Not root, or where that set-up fails, it runs them on simulated
# nodes instead, and says so. SIMULATE_NODES=N adds a node agent with N simulated nodes
# (at least one when there are no real containers). One run per state directory: a second
# one says who holds it and exits. The lock is flock(2)'s, so it dies with its holder and
# never goes stale.
#
# Environment: KUBECONFIG (required), STATE_DIR (.kybern), METRICS_ADDR (:8443, HTTPS),
# HEALTH_ADDR (:8081), WEBHOOK_ADDR (127.0.0.1:9443: the admission webhook, which the
# apiserver calls there), METRICS_API_ADDR (127.0.0.1:4443: the metrics API, which the local
# control plane's apiserver aggregates; not served for another cluster), SIMULATE_NODES (0), MANAGER (bin/manager), NODE_AGENT
# (bin/node-agent), CONTROLPLANE (bin/controlplane), CLUSTER_CA_DIR (the apiserver's client
# CA, ca.crt and ca.key, which the manager then signs node certificates with: the local
# control plane's; unset for another cluster, whose own signer signs), and NODE_DEPS (hack/node-deps.sh): the command run as root that installs what real
# containers need, or fails saying what to install.
#
# The real node's agent joins as upstream's kubelet does: with a bootstrap token
# (controlplane join writes STATE_DIR/bootstrap-kubeconfig) it obtains a client
# certificate of its own, kybern:node:<node>, kept under STATE_DIR/nodes/<node>/pki and
# renewed before it expires; it never holds the admin credential. Simulated nodes share
# KUBECONFIG's.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${STATE_DIR:-$ROOT/.kybern}
METRICS_ADDR=${METRICS_ADDR:-:8443}
HEALTH_ADDR=${HEALTH_ADDR:-:8081}
WEBHOOK_ADDR=${WEBHOOK_ADDR:-127.0.0.1:9443}
METRICS_API_ADDR=${METRICS_API_ADDR:-127.0.0.1:4443}
MANAGER=${MANAGER:-$ROOT/bin/manager}
NODE_AGENT=${NODE_AGENT:-$ROOT/bin/node-agent}
CONTROLPLANE=${CONTROLPLANE:-$ROOT/bin/controlplane}
CLUSTER_CA_DIR=${CLUSTER_CA_DIR:-}
NODE_DEPS=${NODE_DEPS:-$ROOT/hack/node-deps.sh}
SIMULATE_NODES=${SIMULATE_NODES:-0}
if [[ ! $SIMULATE_NODES =~ ^[0-9]+$ ]]; then
  echo "kybern: SIMULATE_NODES is a number of nodes, not '$SIMULATE_NODES'; run, for example: make run SIMULATE_NODES=3" >&2
  exit 1
fi
mkdir -p "$STATE_DIR"

# Children get the lock closed (9>&-): containers outlive make run, and their shims must
# not hold it.
exec 9>>"$STATE_DIR/run.lock"
if ! flock -n 9; then
  echo "kybern: make run is already running here (pid $(cat "$STATE_DIR/run.pid" 2>/dev/null || echo unknown)); stop it with Ctrl-C in its terminal first" >&2
  exit 1
fi
echo $$ >"$STATE_DIR/run.pid"

# require_free fails the run when something already listens on the port of ADDR
# ([host]:port) on loopback, naming the make variable that moves it.
require_free() {
  local what=$1 var=$2 addr=$3 port=${3##*:}
  [[ $addr == 0 || -z $port ]] && return 0
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "kybern: port $port for the manager's $what is in use by another process; free it or run: make run $var=:<free port>" >&2
    exit 1
  fi
}
require_free metrics METRICS_ADDR "$METRICS_ADDR"
require_free "health probes" HEALTH_ADDR "$HEALTH_ADDR"
require_free "admission webhook" WEBHOOK_ADDR "$WEBHOOK_ADDR"
[[ -z $CLUSTER_CA_DIR ]] || require_free "metrics API" METRICS_API_ADDR "$METRICS_API_ADDR"

# Real containers: as root, once the node's packages and the offline image are in place.
real=
if [[ $(id -u) != 0 ]]; then
  fix="for real containers, run as root: sudo make run"
elif ! "$NODE_DEPS"; then
  fix="for real containers, install what is named above, then: make run"
else
  real=1
  if [[ ! -f $STATE_DIR/images/busybox.tar ]]; then
    echo "kybern: building the offline image busybox:latest (make images)" >&2
    (cd "$ROOT" && go run ./hack/images -out "$STATE_DIR/images/busybox.tar")
  fi
fi
if [[ -z $real ]]; then
  ((SIMULATE_NODES > 0)) || SIMULATE_NODES=1
  nodes="$SIMULATE_NODES simulated nodes"
  ((SIMULATE_NODES > 1)) || nodes="1 simulated node"
  echo "kybern: pods run on $nodes, not as real containers; $fix" >&2
fi

# Each child runs in a session of its own (setsid), so that Ctrl-C reaches this script
# alone and each child gets exactly one SIGTERM from stop: a second signal makes the
# manager exit at once, before it hands over its leader Lease.
pids=()
stop() {
  trap - INT TERM
  echo "kybern: stopping (the control plane keeps running; make envtest-down stops it)" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM

cluster=()
if [[ -n $CLUSTER_CA_DIR ]]; then
  # The local control plane has no kube-controller-manager: the manager also gives every
  # namespace its default service account and the CA pods verify the apiserver with.
  cluster=(--cluster-signing-cert-file "$CLUSTER_CA_DIR/ca.crt" --cluster-signing-key-file "$CLUSTER_CA_DIR/ca.key"
    --root-ca-file "$CLUSTER_CA_DIR/ca.crt" --controllers '*,serviceaccount,root-ca-cert-publisher'
    --metrics-api-bind-address "$METRICS_API_ADDR")
fi
# Leader election, as in the chart: a second make run (another clone, say) against the
# same control plane waits as a follower instead of acting beside this one.
setsid "$MANAGER" --kubeconfig "$KUBECONFIG" --leader-elect --leader-election-namespace kybern-system \
  --metrics-bind-address "$METRICS_ADDR" --health-probe-bind-address "$HEALTH_ADDR" \
  --webhook-bind-address "$WEBHOOK_ADDR" "${cluster[@]}" 9>&- &
pids+=($!)
if [[ -n $real ]]; then
  "$CONTROLPLANE" --dir "$STATE_DIR" --kubeconfig "$KUBECONFIG" join
  # The one node's "shared filesystem" is a local directory: claims of class kybern-shared work.
  mkdir -p "$STATE_DIR/shared-claims"
  setsid "$NODE_AGENT" --bootstrap-kubeconfig "$STATE_DIR/bootstrap-kubeconfig" --containerd=embedded --state-dir "$STATE_DIR" \
    --image-dir "$STATE_DIR/images" --log-dir "$STATE_DIR/logs" --shared-claim-dir "$STATE_DIR/shared-claims" 9>&- &
  pids+=($!)
fi
if ((SIMULATE_NODES > 0)); then
  setsid "$NODE_AGENT" --kubeconfig "$KUBECONFIG" --simulate-nodes "$SIMULATE_NODES" --node-name sim --log-dir "$STATE_DIR/logs" 9>&- &
  pids+=($!)
fi

# Whichever process ends first ends the run.
status=0
wait -n "${pids[@]}" || status=$?
stop
exit "$status"
