package apiservice

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
)

func TestParse(t *testing.T) {
	https := corev1.ServicePort{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443}
	cases := []struct {
		name    string
		spec    corev1.ServiceSpec
		want    Service
		wantErr string
	}{
		{"the apiserver's own", corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{https}},
			Service{netip.MustParseAddr("10.96.0.1"), 443}, ""},
		{"the https port among others", corev1.ServiceSpec{ClusterIP: "10.0.0.1", Ports: []corev1.ServicePort{{Name: "other", Port: 80}, {Name: "https", Port: 6443}}},
			Service{netip.MustParseAddr("10.0.0.1"), 6443}, ""},
		{"an only TCP port of another name", corev1.ServiceSpec{ClusterIP: "10.0.0.1", Ports: []corev1.ServicePort{{Name: "api", Port: 8443}}},
			Service{netip.MustParseAddr("10.0.0.1"), 8443}, ""},
		{"a newline in the address", corev1.ServiceSpec{ClusterIP: "10.96.0.1\nflush ruleset", Ports: []corev1.ServicePort{https}}, Service{}, "is not an IPv4 address"},
		{"loopback", corev1.ServiceSpec{ClusterIP: "127.0.0.1", Ports: []corev1.ServicePort{https}}, Service{}, "is not an IPv4 address"},
		{"IPv6", corev1.ServiceSpec{ClusterIP: "fd00::1", Ports: []corev1.ServicePort{https}}, Service{}, "is not an IPv4 address"},
		{"a port out of range", corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 70000}}}, Service{}, "not within 1-65535"},
		{"no https port", corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "a", Port: 1}, {Name: "b", Port: 2}}}, Service{}, "no TCP port named https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(&corev1.Service{Spec: tc.spec})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parse = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestEnvIsUpstreams(t *testing.T) {
	got := map[string]string{}
	for _, e := range (Service{netip.MustParseAddr("10.96.0.1"), 443}).Env() {
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp", "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
	}
	if len(got) != len(want) {
		t.Fatalf("env = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRuleset(t *testing.T) {
	got := ruleset(TableName("node.a"), netip.MustParsePrefix("10.244.1.7/24"), Service{netip.MustParseAddr("10.96.0.1"), 443},
		netip.MustParseAddrPort("10.244.1.1:40123"))
	for _, want := range []string{
		"table ip kybernapi_node_a {",
		"type nat hook prerouting priority dstnat - 1;",
		"ip saddr 10.244.1.0/24 ip daddr 10.96.0.1 tcp dport 443 dnat to 10.244.1.1:40123",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{"https://127.0.0.1:6443": "127.0.0.1:6443", "https://api.example.com": "api.example.com:443", "https://[::1]:6443/": "[::1]:6443"} {
		if got, err := hostPort(in); err != nil || got != want {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := hostPort("not a url"); err == nil {
		t.Error("hostPort took a URL without a host")
	}
}

// The relay carries both directions and passes each side's close on, as a TLS session's
// close_notify and EOF need.
func TestRelayCopiesBothWaysAndHalfCloses(t *testing.T) {
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	go func() {
		conn, err := upstream.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		data, _ := io.ReadAll(conn)
		_, _ = conn.Write([]byte(strings.ToUpper(string(data))))
	}()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	r := &Relay{Log: logr.Discard()}
	go func() {
		conn, err := front.Accept()
		if err != nil {
			return
		}
		r.relay(context.Background(), conn, upstream.Addr().String())
	}()
	client, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("hello apiserver")); err != nil {
		t.Fatal(err)
	}
	if err := client.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "HELLO APISERVER" {
		t.Fatalf("read %q through the relay, want the upstream's answer", got)
	}
}
