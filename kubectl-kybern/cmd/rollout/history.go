package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/describe"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type historyOptions struct {
	streams  genericiooptions.IOStreams
	print    *cli.PrintFlags
	selector string
	revision int64
}

func newCmdHistory(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &historyOptions{streams: streams, print: cli.NewPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "history (TYPE NAME | TYPE/NAME) [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "View rollout history",
		Long: templates.LongDesc(`
			View previous rollout revisions and configurations.

			A deployment's revisions are its replica sets; a daemon set's or stateful
			set's, its controller revisions. CHANGE-CAUSE is their
			kubernetes.io/change-cause annotation. With -o, the replica sets are printed,
			or the daemon set or stateful set as each revision had it.`),
		Example: templates.Examples(`
			# View the rollout history of a deployment
			kubectl kybern rollout history deployment/abc

			# View the details of daemonset revision 3
			kubectl kybern rollout history daemonset/abc --revision=3`),
		ValidArgsFunction: cli.CompleteResources(f, kinds...),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.revision < 0 {
				return fmt.Errorf("revision must be a positive integer: %v", o.revision)
			}
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), f, args)
		},
	}
	cmd.Flags().Int64Var(&o.revision, "revision", o.revision, "See the details, including podTemplate of the revision specified")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	o.print.AddFlags(cmd)
	return cmd
}

func (o *historyOptions) run(ctx context.Context, f *cli.Factory, args []string) error {
	r, err := f.Resolve(ctx, args, o.selector, true)
	if err != nil {
		return err
	}
	errs := r.Errors
	for _, t := range r.Targets {
		if err := o.show(ctx, r, t); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

func (o *historyOptions) show(ctx context.Context, r *cli.Resolved, t cli.Target) error {
	revs, err := history(ctx, r.Client, t)
	if err != nil {
		return err
	}
	if o.print.Specified() {
		return o.printObjects(t, revs)
	}
	text, err := historyText(revs, o.revision)
	if err != nil {
		return err
	}
	header := ""
	if o.revision > 0 {
		header = fmt.Sprintf("with revision #%d", o.revision)
	}
	_, err = fmt.Fprintf(o.streams.Out, "%s %s\n%s\n", t.Name(), header, text)
	return err
}

// printObjects prints, for -o, what records each revision (or only --revision's): a
// Deployment's ReplicaSets; a DaemonSet or StatefulSet with the revision's template.
func (o *historyOptions) printObjects(t cli.Target, revs []*revision) error {
	if o.revision > 0 {
		rev, err := findRevision(t.Kind, t.Object.GetName(), revs, o.revision)
		if err != nil {
			return errors.New("unable to find the specified revision")
		}
		revs = []*revision{rev}
	}
	for _, rev := range revs {
		name, obj, err := revisionObject(t, rev)
		if err != nil {
			return err
		}
		if err := o.print.Print(o.streams.Out, name, obj, ""); err != nil {
			return err
		}
	}
	return nil
}

// revisionObject is what -o prints of rev, and its name: the ReplicaSet recording it, or
// t's object with the revision's template.
func revisionObject(t cli.Target, rev *revision) (string, runtime.Object, error) {
	if rev.replicaSet != nil {
		return cli.ReplicaSet.ObjectName(rev.replicaSet.GetName()), rev.replicaSet, nil
	}
	applied := t.Object.DeepCopy()
	if err := unstructured.SetNestedMap(applied.Object, runtime.DeepCopyJSON(rev.rawTemplate), "spec", "template"); err != nil {
		return "", nil, fmt.Errorf("setting revision %d's template in %s: %w", rev.number, t.Name(), err)
	}
	return t.Name(), applied, nil
}

// historyText is kubectl rollout history's report: the table of revisions and their
// change causes or, for revision n > 0, that revision's pod template.
func historyText(revs []*revision, n int64) (string, error) {
	if len(revs) == 0 {
		return "No rollout history found.", nil
	}
	if n > 0 {
		for _, r := range revs {
			if r.number == n {
				return describeTemplate(r.template), nil
			}
		}
		return "", errors.New("unable to find the specified revision")
	}
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "REVISION\tCHANGE-CAUSE")
	for _, r := range revs {
		cause := r.changeCause()
		if cause == "" {
			cause = "<none>"
		}
		fmt.Fprintf(w, "%d\t%s\n", r.number, cause)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// describeTemplate renders a pod template as kubectl describe does.
func describeTemplate(t *corev1.PodTemplateSpec) string {
	var buf bytes.Buffer
	describe.DescribePodTemplate(t, describe.NewPrefixWriter(&buf))
	return buf.String()
}
