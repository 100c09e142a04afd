#!/usr/bin/env bash
# The foreground part of `make run`: the manager, a node agent running real containers
# (as root, with containerd installed) and, with SIMULATE_NODES=N, a node agent running N
# simulated nodes, against $KUBECONFIG, until Ctrl-C. One run per state directory: a second one says who
# holds it and exits. The lock is flock(2)'s, so it dies with its holder and never goes stale.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${STATE_DIR:-$ROOT/.kybern}
METRICS_ADDR=${METRICS_ADDR:-:8080}
HEALTH_ADDR=${HEALTH_ADDR:-:8081}
MANAGER=${MANAGER:-$ROOT/bin/manager}
NODE_AGENT=${NODE_AGENT:-$ROOT/bin/node-agent}
SIMULATE_NODES=${SIMULATE_NODES:-0}
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

pids=()
stop() {
  trap - INT TERM
  echo "kybern: stopping (the control plane keeps running; make envtest-down stops it)" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM

"$MANAGER" --kubeconfig "$KUBECONFIG" --leader-elect=false \
  --metrics-bind-address "$METRICS_ADDR" --health-probe-bind-address "$HEALTH_ADDR" 9>&- &
pids+=($!)

if [[ $(id -u) == 0 ]] && command -v containerd >/dev/null && command -v runc >/dev/null && command -v ip >/dev/null; then
  if [[ ! -f $STATE_DIR/images/busybox.tar ]] && command -v busybox >/dev/null; then
    (cd "$ROOT" && go run ./hack/images -out "$STATE_DIR/images/busybox.tar")
  fi
  command -v nft >/dev/null ||
    echo "kybern: no nft: Services' cluster IPs and node ports will not answer (as root: apt-get install -y nftables)" >&2
  "$NODE_AGENT" --kubeconfig "$KUBECONFIG" --containerd=embedded --state-dir "$STATE_DIR" \
    --image-dir "$STATE_DIR/images" --log-dir "$STATE_DIR/logs" 9>&- &
  pids+=($!)
else
  echo "kybern: no node agent for real containers: it needs root and containerd (as root: apt-get install -y containerd runc iproute2 nftables containernetworking-plugins busybox-static)" >&2
fi
if [[ $SIMULATE_NODES -gt 0 ]]; then
  "$NODE_AGENT" --kubeconfig "$KUBECONFIG" --simulate-nodes "$SIMULATE_NODES" --node-name sim --log-dir "$STATE_DIR/logs" 9>&- &
  pids+=($!)
fi

# Whichever process ends first ends the run.
status=0
wait -n "${pids[@]}" || status=$?
stop
exit "$status"
