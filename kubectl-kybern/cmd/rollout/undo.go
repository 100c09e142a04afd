package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// podTemplateHashLabel is the label a Deployment's ReplicaSets add to its template.
const podTemplateHashLabel = appsv1.DefaultDeploymentUniqueLabelKey

// keptAnnotations are the Deployment annotations a rollback keeps, as upstream's: all
// others come from the ReplicaSet of the revision rolled back to.
var keptAnnotations = []string{
	corev1.LastAppliedConfigAnnotation,
	revisionAnnotation,
	"deployment.kubernetes.io/revision-history",
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	appsv1.DeprecatedRollbackTo,
}

type undoOptions struct {
	streams    genericiooptions.IOStreams
	print      *cli.PrintFlags
	selector   string
	toRevision int64
	dryRun     cmdutil.DryRunStrategy
}

func newCmdUndo(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &undoOptions{streams: streams, print: cli.NewPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "undo (TYPE NAME | TYPE/NAME) [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Undo a previous rollout",
		Long: templates.LongDesc(`
			Roll back to a previous rollout.

			A deployment gets the pod template of the replica set of that revision (without
			its pod-template-hash label) and that replica set's annotations; a paused
			deployment cannot be rolled back. A daemon set or stateful set gets the
			template its controller revision records.`),
		Example: templates.Examples(`
			# Roll back to the previous deployment
			kubectl kybern rollout undo deployment/abc

			# Roll back to daemonset revision 3
			kubectl kybern rollout undo daemonset/abc --to-revision=3

			# Roll back to the previous deployment with dry-run
			kubectl kybern rollout undo --dry-run=server deployment/abc`),
		ValidArgsFunction: cli.CompleteResources(f, kinds...),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.dryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
				return err
			}
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), f, args)
		},
	}
	cmd.Flags().Int64Var(&o.toRevision, "to-revision", o.toRevision, "The revision to rollback to. Default to 0 (last revision).")
	cmdutil.AddDryRunFlag(cmd)
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	o.print.AddFlags(cmd)
	return cmd
}

func (o *undoOptions) run(ctx context.Context, f *cli.Factory, args []string) error {
	r, err := f.Resolve(ctx, args, o.selector, true)
	if err != nil {
		return err
	}
	errs := r.Errors
	for _, t := range r.Targets {
		if _, applied := t.Object.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; applied {
			fmt.Fprintf(o.streams.ErrOut, "Warning: resource %[1]s was previously managed with 'kubectl apply'. "+
				"Rolling back will not update the %[2]s annotation, which may cause unexpected behavior on future 'kubectl apply' operations. "+
				"Consider using 'kubectl apply' with your previous configuration file instead.\n", t.Name(), corev1.LastAppliedConfigAnnotation)
		}
		if err := o.undo(ctx, r.Client, t); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// undo rolls t back and reports the outcome: rolled back, skipped (t already runs that
// revision's template) or, under --dry-run=client, the template it would roll back to.
func (o *undoOptions) undo(ctx context.Context, c client.Client, t cli.Target) error {
	if !slices.Contains(kinds, t.Kind) {
		return fmt.Errorf("no rollbacker has been implemented for %q", t.Kind.GVK.GroupKind())
	}
	revs, err := history(ctx, c, t)
	if err != nil {
		return err
	}
	rev, err := findRevision(t.Kind, t.Object.GetName(), revs, o.toRevision)
	if err != nil {
		return err
	}
	if o.dryRun == cmdutil.DryRunClient {
		text := describeTemplate(rev.template)
		if t.Kind != cli.Deployment {
			text = "will roll back to " + text
		}
		return o.print.Print(o.streams.Out, t.Name(), t.Object, text)
	}
	if paused, _, _ := unstructured.NestedBool(t.Object.Object, "spec", "paused"); paused && t.Kind == cli.Deployment {
		return errors.New("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
	}
	patch, err := undoPatch(t, rev)
	if err != nil {
		return err
	}
	if patch == nil {
		return o.print.Print(o.streams.Out, t.Name(), t.Object, fmt.Sprintf("skipped rollback (current template already matches revision %d)", rev.number))
	}
	opts := []client.PatchOption{}
	if o.dryRun == cmdutil.DryRunServer {
		opts = append(opts, client.DryRunAll)
	}
	obj := t.Object.DeepCopy()
	if err := c.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch), opts...); err != nil {
		return fmt.Errorf("failed restoring revision %d: %w", rev.number, err)
	}
	return o.print.Print(o.streams.Out, t.Name(), obj, cli.DryRunOperation("rolled back", o.dryRun))
}

// undoPatch is the JSON patch that gives t's object the template of rev, nil when it
// already runs it. A Deployment gets the ReplicaSet's template without the
// pod-template-hash label, and the ReplicaSet's annotations but for keptAnnotations; a
// DaemonSet or StatefulSet gets the template its ControllerRevision records. Templates go
// back as the API server returned them, fields unknown to this plugin included.
func undoPatch(t cli.Target, rev *revision) ([]byte, error) {
	raw, _, err := unstructured.NestedMap(t.Object.Object, "spec", "template")
	if err != nil {
		return nil, fmt.Errorf("reading spec.template of %s: %w", t.Name(), err)
	}
	current := &corev1.PodTemplateSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, current); err != nil {
		return nil, fmt.Errorf("decoding spec.template of %s: %w", t.Name(), err)
	}
	template := runtime.DeepCopyJSON(rev.rawTemplate)
	ops := []map[string]any{{"op": "replace", "path": "/spec/template", "value": template}}
	if t.Kind == cli.Deployment {
		if equalIgnoringHash(rev.template, current) {
			return nil, nil
		}
		unstructured.RemoveNestedField(template, "metadata", "labels", podTemplateHashLabel)
		ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations", "value": rollbackAnnotations(t.Object.GetAnnotations(), rev.annotations)})
	} else if apiequality.Semantic.DeepEqual(rev.template, current) {
		return nil, nil
	}
	return json.Marshal(ops)
}

// equalIgnoringHash compares pod templates but for their pod-template-hash labels, which
// a Deployment's own template does not carry.
func equalIgnoringHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, podTemplateHashLabel)
	delete(b.Labels, podTemplateHashLabel)
	return apiequality.Semantic.DeepEqual(a, b)
}

// rollbackAnnotations are a rolled-back Deployment's annotations: its keptAnnotations, and
// the others of the ReplicaSet it rolls back to.
func rollbackAnnotations(deployment, replicaSet map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range replicaSet {
		if !slices.Contains(keptAnnotations, k) {
			out[k] = v
		}
	}
	for _, k := range keptAnnotations {
		if v, ok := deployment[k]; ok {
			out[k] = v
		}
	}
	return out
}
