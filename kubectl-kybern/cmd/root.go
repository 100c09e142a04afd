// Package cmd is the root command of kubectl-kybern, the kubectl plugin that gives kybern's
// kinds the kubectl commands that are keyed to upstream's: logs, exec, port-forward
// (through the node agents' API), top (through the manager's metrics API), rollout, set
// image, cordon, uncordon, drain, and convert for manifests.
package cmd

import (
	"flag"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
	"github.com/kybern/kybern/kubectl-kybern/cmd/convert"
	"github.com/kybern/kybern/kubectl-kybern/cmd/node"
	"github.com/kybern/kybern/kubectl-kybern/cmd/rollout"
	"github.com/kybern/kybern/kubectl-kybern/cmd/set"
	"github.com/kybern/kybern/kubectl-kybern/cmd/stream"
	"github.com/kybern/kybern/kubectl-kybern/cmd/top"
)

// CommandFunc builds one of the plugin's commands. f's connection flags are the root
// command's persistent flags, parsed by the time the command runs; the command acts
// through f's clients and writes to streams.
type CommandFunc func(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command

// commands are the plugin's commands, in help order. A command is added with one line
// here, or by passing its CommandFunc to NewRootCommand.
var commands = []CommandFunc{
	stream.NewCmdLogs,
	stream.NewCmdExec,
	stream.NewCmdPortForward,
	top.NewCmdTop,
	rollout.NewCmdRollout,
	set.NewCmdSet,
	node.NewCmdCordon,
	node.NewCmdUncordon,
	node.NewCmdDrain,
	func(_ *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
		return convert.NewCmdConvert(streams)
	},
}

// NewRootCommand returns the plugin's root command, with the plugin's commands and then
// extra as its subcommands, kubectl's connection flags (--kubeconfig, --context,
// -n/--namespace, ...) and -v as persistent flags, and cobra's completion command. It
// prints neither errors nor usage: main reports a returned error as kubectl does
// (cmdutil.CheckErr).
func NewRootCommand(streams genericiooptions.IOStreams, extra ...CommandFunc) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-kybern",
		Short: "kubectl's workload and node commands for kybern's kinds",
		Long: templates.LongDesc(`
			kubectl's commands that only know upstream's built-in kinds, for kybern's:
			logs, exec and port-forward reach a pod through its node agent; top reads the
			usage the manager's metrics server collects; rollout, set image, cordon,
			uncordon and drain take upstream's resource names
			(deployment/web, sts/db, node/worker-1) and act on the kybern objects of those
			names; convert rewrites upstream manifests as kybern's.`),
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kybern"},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	f := cli.NewFactory(streams)
	f.Flags.AddFlags(root.PersistentFlags())
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	root.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))
	registerFlagCompletion(root, f)

	for _, newCmd := range append(slices.Clone(commands), extra...) {
		root.AddCommand(newCmd(f, streams))
	}
	return root
}
