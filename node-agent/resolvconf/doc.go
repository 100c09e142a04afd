// Package resolvconf is a node's resolver configuration: it reads the host's
// /etc/resolv.conf and writes each pod's from its dnsPolicy and dnsConfig, as the kubelet
// does. It knows nothing of mounts or containers; the pod worker mounts what it writes.
package resolvconf
