#!/usr/bin/env bash
# Installs what the node agent needs to run real containers, when missing: containerd,
# runc, iproute2 (pod network namespaces), nftables (the service proxy),
# containernetworking-plugins (pod addresses)
# and busybox-static (the test image). As root on
# Debian it installs them with apt; elsewhere, or when apt fails, it fails saying what to
# install. make test and, as root, make run (hack/run.sh) run it.
set -euo pipefail

declare -A packages=([containerd]=containerd [runc]=runc [ip]=iproute2 [nft]=nftables [busybox]=busybox-static)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null || missing+=("${packages[$cmd]}")
done
[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || missing+=(containernetworking-plugins)
# Debian's dynamic busybox package also provides the command; the image needs the static one.
if command -v busybox >/dev/null && ! dpkg -s busybox-static >/dev/null 2>&1 && command -v dpkg >/dev/null; then
  missing+=(busybox-static)
fi
((${#missing[@]})) || exit 0

if ! command -v apt-get >/dev/null; then
  echo "kybern: the node agent needs what Debian packages as ${missing[*]}; install it with this system's package manager" >&2
  exit 1
fi
if [[ $(id -u) != 0 ]]; then
  echo "kybern: the node agent needs ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "kybern: installing ${missing[*]}" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
  echo "kybern: apt-get could not install ${missing[*]} (its error is above); once that is fixed, run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
