package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kybern/kybern/test/testenv/clusterca"
)

// serve runs the control plane until SIGINT or SIGTERM. Once it serves, it writes
// "ready" to ready (when not nil) and closes it; whoever started it may then go.
func serve(st state, ready *os.File) error {
	lock, err := st.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	stopStrays(st)
	if err := os.WriteFile(st.pidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(st.pidFile())

	// The serving certificate is made afresh at each start, into an empty directory.
	if err := os.RemoveAll(st.certDir()); err != nil {
		return err
	}
	for _, d := range []string{st.etcdDir(), st.certDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	ca, err := clusterca.New(st.clusterCADir())
	if err != nil {
		return err
	}
	api, err := ca.APIServer(st.certDir())
	if err != nil {
		return err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    os.Getenv("KUBEBUILDER_ASSETS"),
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: st.etcdDir()},
			APIServer: api,
		},
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver from %q (KUBEBUILDER_ASSETS): %w", env.BinaryAssetsDirectory, err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "controlplane: stopping:", err)
		}
	}()
	if err := writeKubeconfig(st, env); err != nil {
		return err
	}
	if err := moveServiceRange(context.Background(), env.Config); err != nil {
		return err
	}
	fmt.Printf("Control plane serving at %s; kubeconfig %s\n", env.Config.Host, st.kubeconfig())
	if ready != nil {
		fmt.Fprintln(ready, "ready")
		ready.Close()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("Control plane stopping on %s\n", <-sig)
	return nil
}

// writeKubeconfig writes an admin (system:masters) kubeconfig, replacing the old one in a
// single rename so that no reader sees half a file.
func writeKubeconfig(st state, env *envtest.Environment) error {
	admin, err := env.ControlPlane.AddUser(envtest.User{Name: "kybern-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(st.kubeconfig()), ".kubeconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(kubeconfig); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), st.kubeconfig())
}

// stopStrays ends the processes a killed control plane left running on this directory;
// an orphaned etcd would otherwise hold its data directory and make the new one hang.
func stopStrays(st state) {
	pids := st.strays()
	if len(pids) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "Stopping processes left by an earlier control plane on %s: %v\n", st.dir, pids)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(st.strays()) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	for _, pid := range st.strays() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
