package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRuleset(t *testing.T) {
	ports := []servicePort{
		{key: "ns/web:http", clusterIP: netip.MustParseAddr("10.96.0.10"), protocol: "tcp", port: 80, nodePort: 30080,
			endpoints: []endpoint{{netip.MustParseAddr("10.244.0.2"), 8080}, {netip.MustParseAddr("10.244.1.3"), 8080}}},
		{key: "ns/sticky:http", clusterIP: netip.MustParseAddr("10.96.0.20"), protocol: "tcp", port: 80, affinity: time.Minute,
			endpoints: []endpoint{{netip.MustParseAddr("10.244.0.5"), 8080}}},
		{key: "ns/empty:dns", clusterIP: netip.MustParseAddr("10.96.0.30"), protocol: "udp", port: 53},
	}
	got := ruleset("kybern_n1", "kyb*", ports)
	web, sticky := "svc-"+hash("ns/web:http"), "svc-"+hash("ns/sticky:http")
	for _, want := range []string{
		// Replaced whole, in one transaction.
		"add table ip kybern_n1\ndelete table ip kybern_n1\ntable ip kybern_n1 {",
		// Cluster IP and node port lead to the same chain, which picks at random.
		"ip daddr 10.96.0.10 tcp dport 80 goto " + web,
		"fib daddr type local tcp dport 30080 goto " + web,
		"numgen random mod 2 vmap { 0 : goto " + web + "-0, 1 : goto " + web + "-1 }",
		"meta l4proto tcp dnat to 10.244.1.3:8080",
		// ClientIP affinity: a client seen within the timeout keeps its endpoint.
		"timeout 60s",
		"ip saddr @aff-" + sticky + "-0 goto " + sticky + "-0",
		"update @aff-" + sticky + "-0 { ip saddr }",
		// No endpoints: rejected, not sent on.
		"ip daddr . meta l4proto . th dport { 10.96.0.30 . udp . 53 } reject",
		// Traffic DNATed to an endpoint comes back through the host.
		`ct status dnat oifname "kyb*" masquerade`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "10.96.0.30 udp dport 53 goto") {
		t.Errorf("a port without endpoints is dispatched:\n%s", got)
	}
	if again := ruleset("kybern_n1", "kyb*", ports); again != got {
		t.Error("the same services give a different ruleset, which would rewrite the table for nothing")
	}
}

func TestTableName(t *testing.T) {
	for node, want := range map[string]string{"vm": "kybern_vm", "e2e-a": "kybern_e2e_a", "n.example.com": "kybern_n_example_com"} {
		if got := TableName(node); got != want {
			t.Errorf("TableName(%q) = %q, want %q", node, got, want)
		}
	}
}
