// Package testenv starts a real kube-apiserver and etcd (envtest) for a test suite and
// hands out what suites share: a client that knows every kybern kind, an admin kubeconfig
// file for binaries under test, and the kubectl built beside the apiserver.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kybern/kybern/api"
	"github.com/kybern/kybern/test/testenv/clusterca"
)

// Env is a running control plane.
type Env struct {
	env *envtest.Environment
	// Config reaches the apiserver as an administrator.
	Config *rest.Config
	// Client knows the built-in kinds, CRDs and every kybern kind.
	Client client.Client
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// KubectlPath is the path of the kubectl built with the apiserver.
	KubectlPath string
	// CA is the apiserver's client and serving CA, which managers started here sign node
	// agents' certificates with and publish to pods.
	CA *clusterca.Authn
	// accounts is set once a manager here gives new namespaces their default
	// ServiceAccount, which admission then requires of every pod.
	accounts atomic.Bool
}

// Start starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, writing the kubeconfig
// and etcd's data into dir, which outlives Stop for the caller to remove. It installs no CRDs: suites install them as users do.
func Start(dir string) (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is unset: run make test, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)")
	}
	ca, err := clusterca.New(filepath.Join(dir, "cluster-ca"))
	if err != nil {
		return nil, err
	}
	api, err := ca.APIServer(filepath.Join(dir, "apiserver"))
	if err != nil {
		return nil, err
	}
	// etcd keeps its data in dir, not in a directory of its own that Stop removes, so
	// that RestartControlPlane finds every object again.
	plane := envtest.ControlPlane{Etcd: &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}, APIServer: api}
	// kube-apiserver ends the watches open at shutdown within 5 s rather than waiting for
	// them (a running manager's and agents') up to its request timeout, a minute; envtest
	// waits up to 90 s for it to stop, as make envtest-down does.
	api.Configure().Set("shutdown-watch-termination-grace-period", "5s")
	e := &Env{KubectlPath: filepath.Join(assets, "kubectl"), CA: ca,
		env: &envtest.Environment{ControlPlane: plane, ControlPlaneStopTimeout: 90 * time.Second}}
	cfg, err := e.env.Start()
	if err != nil {
		return nil, err
	}
	e.Config = cfg
	if err := e.setup(dir); err != nil {
		_ = e.env.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) setup(dir string) error {
	scheme := apiruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(api.AddToScheme(scheme))
	c, err := client.New(e.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	e.Client = c

	admin, err := e.env.ControlPlane.AddUser(envtest.User{Name: "test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kubeconfig, 0o600)
}

// InstallCRDs installs config/crd/bases and config/cluster as make install does:
// server-side apply with the kubectl built beside the apiserver, with a wait until every
// CRD is Established and the node restriction policy is enforced.
func (e *Env) InstallCRDs(ctx context.Context) error {
	dir := filepath.Join(RepoRoot(), "config", "crd", "bases")
	for _, args := range [][]string{
		{"apply", "--server-side", "--force-conflicts", "--field-manager=kybern-install", "-f", dir},
		{"wait", "--for", "condition=Established", "--timeout=120s", "-f", dir},
		{"apply", "--server-side", "--field-manager=kybern-install", "-f", filepath.Join(RepoRoot(), "config", "cluster")},
	} {
		if out, err := e.Kubectl(ctx, args...); err != nil {
			return fmt.Errorf("kubectl %v: %w\n%s", args, err, out)
		}
	}
	return e.awaitNodeRestriction(ctx)
}

// Kubectl runs the kubectl built beside the apiserver against it and returns its combined
// output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.KubectlPath, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
