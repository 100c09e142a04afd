// Command controlplane runs the local control plane of `make run`: envtest's etcd and
// kube-apiserver in the background, with etcd's data under the state directory (.kybern/)
// so objects survive a restart, and an admin kubeconfig at .kybern/kubeconfig.
//
//	controlplane up     start it in the background unless it runs; wait until it serves
//	controlplane down   stop it, and any process a crashed run left behind
//	controlplane serve  run it in the foreground (what `up` starts)
//	controlplane join   write DIR/bootstrap-kubeconfig, a bootstrap token's, for node
//	                    agents to join the --kubeconfig cluster with (default DIR/kubeconfig);
//	                    flags go before the command
//
// The binaries come from KUBEBUILDER_ASSETS (hack/setup-envtest.sh prints the directory).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", ".kybern", "state directory: etcd data, certificates, kubeconfig, log")
	// --kubeconfig is controller-runtime's flag, registered by a package this one uses.
	kubeconfig := flag.Lookup("kubeconfig")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: controlplane [--dir DIR] [--kubeconfig FILE] up|down|serve|join")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
	st := state{dir: abs}
	switch flag.Arg(0) {
	case "up":
		err = up(st)
	case "down":
		err = down(st)
	case "serve":
		err = serve(st, os.NewFile(3, "ready"))
	case "join":
		admin := kubeconfig.Value.String()
		if admin == "" {
			admin = st.kubeconfig()
		}
		err = join(context.Background(), st, admin)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}
