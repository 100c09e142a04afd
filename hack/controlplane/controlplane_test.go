package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestLifecycle drives the built binary as make does: up, a second up, down, up again
// with the data kept, and recovery after its supervisor is killed outright.
func TestLifecycle(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is unset: run make test, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)")
	}
	bin := filepath.Join(t.TempDir(), "controlplane")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "state")
	st := state{dir: dir}
	cp := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--dir", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	mustCP := func(args ...string) string {
		t.Helper()
		out, err := cp(args...)
		if err != nil {
			t.Fatalf("controlplane %v: %v\n%s", args, err, out)
		}
		return out
	}
	t.Cleanup(func() { _, _ = cp("down") })

	mustCP("up")
	createConfigMap(t, st.kubeconfig(), "kept")

	if out := mustCP("up"); !strings.Contains(out, "already running") {
		t.Errorf("second up said %q, want it to say the control plane is already running", out)
	}
	out, err := cp("serve")
	if err == nil || !strings.Contains(out, "already running (pid ") {
		t.Errorf("serve beside a running control plane: err=%v, output %q; want a refusal naming the pid", err, out)
	}

	mustCP("down")
	if st.running() {
		t.Fatal("still running after down")
	}
	if strays := st.strays(); len(strays) > 0 {
		t.Fatalf("down left processes behind: %v", strays)
	}

	mustCP("up")
	getConfigMap(t, st.kubeconfig(), "kept")
	// A bootstrap kubeconfig from before the restart names the old port: join rewrites it.
	for range 2 {
		mustCP("--kubeconfig", st.kubeconfig(), "join")
		if got, want := server(t, st.bootstrapKubeconfig()), server(t, st.kubeconfig()); got != want {
			t.Fatalf("the bootstrap kubeconfig names %s, the control plane serves at %s", got, want)
		}
		mustCP("down")
		mustCP("up")
	}

	// A supervisor killed outright leaves etcd and kube-apiserver running on the data
	// directory; the next up must clear them rather than hang on etcd's lock.
	if err := syscall.Kill(st.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !st.running() })
	if len(st.strays()) == 0 {
		t.Fatal("expected etcd and kube-apiserver to outlive their killed supervisor")
	}
	mustCP("up")
	getConfigMap(t, st.kubeconfig(), "kept")
	mustCP("down")
}

// server is the apiserver URL of a kubeconfig file.
func server(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host
}

func clientFor(t *testing.T, kubeconfig string) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func createConfigMap(t *testing.T, kubeconfig, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := clientFor(t, kubeconfig).CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getConfigMap(t *testing.T, kubeconfig, name string) {
	t.Helper()
	cm, err := clientFor(t, kubeconfig).CoreV1().ConfigMaps("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the object did not survive the restart: %v", err)
	}
	if cm.Data["k"] != "v" {
		t.Fatalf("data = %v", cm.Data)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
