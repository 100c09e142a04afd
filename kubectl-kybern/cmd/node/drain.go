package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type drainOptions struct {
	nodeOptions
	force, ignoreDaemonSets, deleteEmptyDirData, disableEviction bool
	gracePeriod                                                  int
	timeout                                                      time.Duration
	podSelector                                                  string
	skipWaitForDeleteTimeout                                     int
	chunkSize                                                    int64
	factory                                                      *cli.Factory
}

// NewCmdDrain returns the drain command.
func NewCmdDrain(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &drainOptions{nodeOptions: nodeOptions{streams: streams}, gracePeriod: -1, chunkSize: cmdutil.DefaultChunkSize, factory: f}
	cmd := &cobra.Command{
		Use:                   "drain NODE",
		DisableFlagsInUseLine: true,
		Short:                 "Drain node in preparation for maintenance",
		Long: templates.LongDesc(`
			Drain node in preparation for maintenance.

			The given node will be marked unschedulable to prevent new pods from arriving.
			Then drain deletes its pods. Kybern's pods are custom resources, which have no
			eviction subresource: drain always deletes them, as upstream's does with
			--disable-eviction, and PodDisruptionBudgets are not consulted. A deleted pod
			stops within its spec.terminationGracePeriodSeconds, which the node agent
			honours; --grace-period sets that field on each pod before deleting it.

			If there are daemon set-managed pods, drain will not proceed without
			--ignore-daemonsets, and regardless it will not delete any daemon set-managed
			pods, because those pods would be immediately replaced by the daemon set
			controller, which ignores unschedulable markings. If there are any pods that
			are neither managed by a replica set, daemon set, stateful set, or job, then
			drain will not delete any pods unless you use --force. --force will also allow
			deletion to proceed if the managing resource of one or more pods is missing.

			'drain' waits for the pods to be gone. You should not operate on the machine
			until the command completes.

			When you are ready to put the node back into service, use kubectl kybern
			uncordon, which will make the node schedulable again.`),
		Example: templates.Examples(`
			# Drain node "foo", even if there are pods not managed by a replica set, job, daemon set, or stateful set on it
			kubectl kybern drain foo --force

			# As above, but abort if there are pods not managed by a replica set, job, daemon set, or stateful set, and use a grace period of 15 minutes
			kubectl kybern drain foo --grace-period=900`),
		ValidArgsFunction: cli.CompleteNames(f, cli.Node),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.podSelector != "" {
				if _, err := labels.Parse(o.podSelector); err != nil {
					return errors.New("--pod-selector=<pod_selector> must be a valid label selector")
				}
			}
			if err := o.complete(cmd, f, args); err != nil {
				return err
			}
			return o.drain(cmd.Context())
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&o.force, "force", o.force, "Continue even if there are pods that do not declare a controller.")
	flags.BoolVar(&o.ignoreDaemonSets, "ignore-daemonsets", o.ignoreDaemonSets, "Ignore DaemonSet-managed pods.")
	flags.BoolVar(&o.deleteEmptyDirData, "delete-emptydir-data", o.deleteEmptyDirData, "Continue even if there are pods using emptyDir (local data that will be deleted when the node is drained).")
	flags.IntVar(&o.gracePeriod, "grace-period", o.gracePeriod, "Period of time in seconds given to each pod to terminate gracefully, set as its spec.terminationGracePeriodSeconds. If negative, the value specified in the pod will be used.")
	flags.DurationVar(&o.timeout, "timeout", o.timeout, "The length of time to wait before giving up, zero means infinite")
	flags.StringVar(&o.podSelector, "pod-selector", o.podSelector, "Label selector to filter pods on the node")
	flags.BoolVar(&o.disableEviction, "disable-eviction", o.disableEviction, "Accepted for compatibility with kubectl drain: kybern pods have no eviction subresource, so drain always deletes them.")
	flags.IntVar(&o.skipWaitForDeleteTimeout, "skip-wait-for-delete-timeout", o.skipWaitForDeleteTimeout, "If pod DeletionTimestamp older than N seconds, skip waiting for the pod.  Seconds must be greater than 0 to skip.")
	cmdutil.AddChunkSizeFlag(cmd, &o.chunkSize)
	cmdutil.AddDryRunFlag(cmd)
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	return cmd
}

// drain cordons every node, then deletes each node's pods and waits for them to go. A node
// that cannot be drained is reported and the others still are; the error lists them.
func (o *drainOptions) drain(ctx context.Context) error {
	o.cordonOrUncordon(ctx, true)
	var fatal []error
	var pending []string
	for _, n := range o.nodes {
		if err := o.drainNode(ctx, n.GetName()); err != nil {
			fmt.Fprintf(o.streams.ErrOut, "error: unable to drain node %q due to error: %s, continuing command...\n", n.GetName(), err)
			fatal = append(fatal, err)
			pending = append(pending, n.GetName())
			continue
		}
		fmt.Fprintf(o.streams.Out, "%s %s\n", cli.Node.ObjectName(n.GetName()), cli.DryRunOperation("drained", o.dryRun))
	}
	if len(pending) > 0 {
		fmt.Fprintf(o.streams.ErrOut, "There are pending nodes to be drained:\n")
		for _, name := range pending {
			fmt.Fprintf(o.streams.ErrOut, " %s\n", name)
		}
	}
	return utilerrors.NewAggregate(fatal)
}

func (o *drainOptions) drainNode(ctx context.Context, node string) error {
	pods, err := o.podsOf(ctx, node)
	if err != nil {
		return err
	}
	judged := o.filters(ctx).judgeAll(pods)
	if errs := judged.errors(); len(errs) > 0 {
		return utilerrors.NewAggregate(errs)
	}
	if w := judged.warnings(); w != "" {
		printers.NewWarningPrinter(o.streams.ErrOut, printers.WarningPrinterOptions{Color: printers.AllowsColorOutput(o.streams.ErrOut)}).Print(w)
	}
	doomed := judged.toDelete()
	if o.dryRun == cmdutil.DryRunClient {
		for _, p := range doomed {
			fmt.Fprintf(o.streams.Out, "evicting pod %s/%s (dry run)\n", p.Namespace, p.Name)
		}
		return nil
	}
	for _, p := range doomed {
		if err := o.deletePod(ctx, p); err != nil {
			return err
		}
	}
	if o.dryRun == cmdutil.DryRunServer || len(doomed) == 0 {
		return nil
	}
	if err := o.awaitGone(ctx, node, doomed); err != nil {
		if left, listErr := o.podsOf(ctx, node); listErr == nil && len(left) > 0 {
			fmt.Fprintf(o.streams.ErrOut, "There are pending pods in node %q when an error occurred: %v\n", node, err)
			for _, p := range left {
				fmt.Fprintf(o.streams.ErrOut, "%s\n", cli.Pod.ObjectName(p.Name))
			}
		}
		return err
	}
	return nil
}

func (o *drainOptions) filters(ctx context.Context) filters {
	return filters{
		force: o.force, ignoreDaemonSets: o.ignoreDaemonSets, deleteEmptyDirData: o.deleteEmptyDirData,
		skipWaitForDeleteTimeout: time.Duration(o.skipWaitForDeleteTimeout) * time.Second,
		now:                      time.Now(),
		daemonSet: func(namespace, name string) error {
			return o.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &appsv1alpha1.DaemonSet{})
		},
	}
}

// podsOf lists the pods bound to node that --pod-selector matches, in pages of
// --chunk-size.
func (o *drainOptions) podsOf(ctx context.Context, node string) ([]*corev1alpha1.Pod, error) {
	selector, err := labels.Parse(o.podSelector)
	if err != nil {
		return nil, err
	}
	var out []*corev1alpha1.Pod
	opts := &client.ListOptions{
		LabelSelector: selector,
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node),
		Limit:         o.chunkSize,
	}
	for {
		list := &corev1alpha1.PodList{}
		if err := o.client.List(ctx, list, opts); err != nil {
			return nil, fmt.Errorf("listing the pods of node %s: %w", node, err)
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// deletePod deletes p, first setting its spec.terminationGracePeriodSeconds to
// --grace-period when given: custom resources have no graceful deletion of their own, and
// the node agent stops a deleted pod's containers within that field's time.
func (o *drainOptions) deletePod(ctx context.Context, p *corev1alpha1.Pod) error {
	var patchOpts []client.PatchOption
	var deleteOpts []client.DeleteOption
	if o.dryRun == cmdutil.DryRunServer {
		patchOpts, deleteOpts = append(patchOpts, client.DryRunAll), append(deleteOpts, client.DryRunAll)
	}
	if o.gracePeriod >= 0 {
		grace := int64(o.gracePeriod)
		deleteOpts = append(deleteOpts, client.GracePeriodSeconds(grace))
		if ptr.Deref(p.Spec.TerminationGracePeriodSeconds, -1) != grace && p.DeletionTimestamp == nil {
			patch := fmt.Appendf(nil, `{"spec":{"terminationGracePeriodSeconds":%d}}`, grace)
			if err := o.client.Patch(ctx, p, client.RawPatch(types.MergePatchType, patch), patchOpts...); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("setting spec.terminationGracePeriodSeconds of pod %s/%s to --grace-period=%d: %w", p.Namespace, p.Name, grace, err)
			}
		}
	}
	if err := o.client.Delete(ctx, p, deleteOpts...); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
