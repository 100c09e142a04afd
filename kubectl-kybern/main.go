// Command kubectl-kybern is the kubectl plugin for kybern: kubectl rollout, set image,
// cordon, uncordon and drain for kybern's kinds, and convert for upstream manifests.
// Installed on PATH it runs as "kubectl kybern".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kybern/kybern/kubectl-kybern/cmd"
)

func main() {
	ctrllog.SetLogger(klog.NewKlogr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}).ExecuteContext(ctx)
	stop()
	// Prints the error as kubectl does and exits 1, or with the exit code of a remote
	// command.
	cmdutil.CheckErr(err)
}
