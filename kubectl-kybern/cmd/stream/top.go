package stream

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// ErrNoMetrics is top's answer until node agents serve resource metrics.
var ErrNoMetrics = errors.New("metrics API not available: kybern's node agents do not serve resource usage yet (it comes with the horizontal pod autoscaler)")

// NewCmdTop is kubectl top's command line; it fails with ErrNoMetrics, saying why.
func NewCmdTop(_ *cli.Factory, _ genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top (node | pod)",
		Short: "Display resource (CPU/memory) usage (not available yet)",
		RunE:  func(*cobra.Command, []string) error { return ErrNoMetrics },
	}
	for _, sub := range []string{"node", "pod"} {
		cmd.AddCommand(&cobra.Command{Use: sub, Short: "Display resource usage of " + sub + "s (not available yet)",
			RunE: func(*cobra.Command, []string) error { return ErrNoMetrics }})
	}
	return cmd
}
