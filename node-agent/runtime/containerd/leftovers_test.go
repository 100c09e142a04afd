package containerd

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestLeaseHolders(t *testing.T) {
	dir := t.TempDir()
	net := filepath.Join(dir, "kybern-node")
	if err := os.MkdirAll(net, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"10.244.0.2":         "uid-a\r\neth0",
		"10.244.0.3":         "uid-b\neth0\n",
		"last_reserved_ip.0": "10.244.0.3",
		"lock":               "",
	} {
		if err := os.WriteFile(filepath.Join(net, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := leaseHolders(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[types.UID]bool{"uid-a": true, "uid-b": true}
	if len(got) != len(want) || !want[got[0]] || !want[got[1]] {
		t.Errorf("leaseHolders = %v, want uid-a and uid-b", got)
	}
	if none, err := leaseHolders(filepath.Join(dir, "missing")); err != nil || len(none) != 0 {
		t.Errorf("a node without leases: %v, %v", none, err)
	}
}

func TestBridgeMAC(t *testing.T) {
	a, b := bridgeMAC("kyb0123456789"), bridgeMAC("kyb9876543210")
	if a != bridgeMAC("kyb0123456789") || a == b {
		t.Fatalf("bridgeMAC is not a function of the name: %s, %s", a, b)
	}
	mac, err := net.ParseMAC(a)
	if err != nil {
		t.Fatal(err)
	}
	if mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
		t.Errorf("%s is not a locally administered unicast address", a)
	}
}
