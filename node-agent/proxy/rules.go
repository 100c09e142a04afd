package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// ruleset is the nftables script that replaces table (family ip) in one transaction:
// the table is created if missing, deleted, and written afresh, so that a reader never
// sees half a ruleset.
//
// Traffic to a Service port, from pods (prerouting) or from the host (output), jumps to
// the port's chain, which picks an endpoint at random (numgen) or, with ClientIP
// affinity, the endpoint that client had last, and DNATs to it. Node ports match any
// local address. Traffic DNATed onto a pod bridge (interfaces matching bridges) is
// masqueraded, so that replies come back through this host: pods have no route to the
// host's own addresses, and a client and endpoint on one bridge would otherwise talk
// past the NAT. A Service port without endpoints is rejected, as upstream's proxy does.
func ruleset(table, bridges string, ports []servicePort) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("add table ip %s", table)
	w("delete table ip %s", table)
	w("table ip %s {", table)
	w("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    jump services\n  }")
	w("  chain output {\n    type nat hook output priority -100; policy accept;\n    jump services\n  }")
	w("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;")
	w("    ct status dnat oifname %q masquerade\n  }", bridges)

	var dispatch, chains, rejects []string
	for _, p := range ports {
		svc := "svc-" + hash(p.key)
		match := fmt.Sprintf("%s dport %d", p.protocol, p.port)
		if len(p.endpoints) == 0 {
			rejects = append(rejects, fmt.Sprintf("%s . %s . %d", p.clusterIP, p.protocol, p.port))
			continue
		}
		dispatch = append(dispatch, fmt.Sprintf("    ip daddr %s %s goto %s", p.clusterIP, match, svc))
		if p.nodePort != 0 {
			dispatch = append(dispatch, fmt.Sprintf("    fib daddr type local %s dport %d goto %s", p.protocol, p.nodePort, svc))
		}
		chains = append(chains, portChains(p, svc)...)
	}
	w("  chain services {")
	for _, d := range dispatch {
		w("%s", d)
	}
	w("  }")
	for _, c := range chains {
		w("%s", c)
	}
	if len(rejects) > 0 {
		set := strings.Join(rejects, ", ")
		// Before routing, which would answer "no route to host" from the service range's
		// unreachable route, and before the NAT chains.
		for _, hook := range []string{"prerouting", "output"} {
			w("  chain reject-%s {\n    type filter hook %s priority -110; policy accept;", hook, hook)
			w("    ip daddr . meta l4proto . th dport { %s } reject\n  }", set)
		}
	}
	w("}")
	return b.String()
}

// portChains are the chain that picks an endpoint for p, and one chain per endpoint.
func portChains(p servicePort, svc string) []string {
	var pick []string
	var out []string
	var vmap []string
	for i, e := range p.endpoints {
		ep := fmt.Sprintf("%s-%d", svc, i)
		body := []string{fmt.Sprintf("    meta l4proto %s dnat to %s:%d", p.protocol, e.ip, e.port)}
		if p.affinity > 0 {
			set := "aff-" + ep
			out = append(out, fmt.Sprintf("  set %s {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout %ds\n  }", set, int(p.affinity.Seconds())))
			pick = append(pick, fmt.Sprintf("    ip saddr @%s goto %s", set, ep))
			body = append([]string{fmt.Sprintf("    update @%s { ip saddr }", set)}, body...)
		}
		vmap = append(vmap, fmt.Sprintf("%d : goto %s", i, ep))
		out = append(out, fmt.Sprintf("  chain %s {\n%s\n  }", ep, strings.Join(body, "\n")))
	}
	pick = append(pick, fmt.Sprintf("    numgen random mod %d vmap { %s }", len(p.endpoints), strings.Join(vmap, ", ")))
	return append([]string{fmt.Sprintf("  chain %s {\n%s\n  }", svc, strings.Join(pick, "\n"))}, out...)
}

// hash names a service port's chains: 10 hex digits of its key's SHA-256, short enough
// for nftables' names, and the same on every agent.
func hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:5])
}
