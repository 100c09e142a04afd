// Package node is kubectl cordon, uncordon and drain for kybern's Nodes: spec.unschedulable
// keeps the scheduler from binding pods to a node, and drain deletes the node's pods.
package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// nodeOptions are what cordon, uncordon and drain share: the nodes, and --dry-run.
type nodeOptions struct {
	streams  genericiooptions.IOStreams
	selector string
	dryRun   cmdutil.DryRunStrategy
	client   client.WithWatch
	nodes    []*unstructured.Unstructured
}

func newCmdCordonOrUncordon(f *cli.Factory, streams genericiooptions.IOStreams, cordon bool) *cobra.Command {
	o := &nodeOptions{streams: streams}
	cmd := &cobra.Command{
		Use:                   "cordon NODE",
		DisableFlagsInUseLine: true,
		Short:                 "Mark node as unschedulable",
		Long:                  templates.LongDesc(`Mark node as unschedulable: the scheduler binds no new pods to it.`),
		Example: templates.Examples(`
			# Mark node "foo" as unschedulable
			kubectl kybern cordon foo`),
		ValidArgsFunction: cli.CompleteNames(f, cli.Node),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, f, args); err != nil {
				return err
			}
			o.cordonOrUncordon(cmd.Context(), cordon)
			return nil
		},
	}
	if !cordon {
		cmd.Use = "uncordon NODE"
		cmd.Short = "Mark node as schedulable"
		cmd.Long = templates.LongDesc(`Mark node as schedulable.`)
		cmd.Example = templates.Examples(`
			# Mark node "foo" as schedulable
			kubectl kybern uncordon foo`)
	}
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	cmdutil.AddDryRunFlag(cmd)
	return cmd
}

// NewCmdCordon returns the cordon command.
func NewCmdCordon(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCordonOrUncordon(f, streams, true)
}

// NewCmdUncordon returns the uncordon command.
func NewCmdUncordon(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCordonOrUncordon(f, streams, false)
}

// complete reads the nodes args name (NODE or node/NODE), or those --selector matches.
// As upstream, a node that cannot be read fails the command before any node is changed.
func (o *nodeOptions) complete(cmd *cobra.Command, f *cli.Factory, args []string) error {
	if len(args) == 0 && !cmd.Flags().Changed("selector") {
		return cmdutil.UsageErrorf(cmd, "USAGE: %s [flags]", cmd.Use)
	}
	if len(args) > 0 && o.selector != "" {
		return cmdutil.UsageErrorf(cmd, "error: cannot specify both a node name and a --selector option")
	}
	var err error
	if o.dryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	var sel cli.Selection
	if len(args) > 0 {
		sel, err = nodeNames(args)
	} else {
		sel, err = cli.ParseResources([]string{"nodes"}, o.selector, true)
	}
	if err != nil {
		return err
	}
	if o.client, err = f.Client(); err != nil {
		return err
	}
	targets, err := sel.Fetch(cmd.Context(), o.client, "")
	if err != nil {
		return err
	}
	for _, t := range targets {
		o.nodes = append(o.nodes, t.Object)
	}
	return nil
}

// nodeNames selects the nodes named by args: NODE, or TYPE/NODE where TYPE names nodes.
func nodeNames(args []string) (cli.Selection, error) {
	var sel cli.Selection
	for _, a := range args {
		name := a
		if typ, n, found := strings.Cut(a, "/"); found {
			if k, err := cli.LookupKind(typ); err != nil || k != cli.Node {
				return cli.Selection{}, fmt.Errorf("error: expected resource of type node, got %q", typ)
			}
			name = n
		}
		sel.Named = append(sel.Named, cli.Ref{Kind: cli.Node, Name: name})
	}
	return sel, nil
}

// cordonOrUncordon sets spec.unschedulable of every node to cordon, printing each node's
// outcome: cordoned, already cordoned, uncordoned, already uncordoned. As upstream, a node
// it cannot change is reported on stderr and the others still are.
func (o *nodeOptions) cordonOrUncordon(ctx context.Context, cordon bool) {
	verb, done := "cordon", "cordoned"
	if !cordon {
		verb, done = "uncordon", "uncordoned"
	}
	for _, n := range o.nodes {
		name := cli.Node.ObjectName(n.GetName())
		if current, _, _ := unstructured.NestedBool(n.Object, "spec", "unschedulable"); current == cordon {
			fmt.Fprintf(o.streams.Out, "%s already %s\n", name, done)
			continue
		}
		if o.dryRun != cmdutil.DryRunClient {
			patch := []byte(`{"spec":{"unschedulable":true}}`)
			if !cordon {
				patch = []byte(`{"spec":{"unschedulable":null}}`)
			}
			opts := []client.PatchOption{}
			if o.dryRun == cmdutil.DryRunServer {
				opts = append(opts, client.DryRunAll)
			}
			if err := o.client.Patch(ctx, n.DeepCopy(), client.RawPatch(types.MergePatchType, patch), opts...); err != nil {
				fmt.Fprintf(o.streams.ErrOut, "error: unable to %s node %q: %v\n", verb, n.GetName(), err)
				continue
			}
		}
		fmt.Fprintf(o.streams.Out, "%s %s\n", name, cli.DryRunOperation(done, o.dryRun))
	}
}
