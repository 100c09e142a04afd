package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// restartedAtAnnotation is the pod template annotation whose change restarts a workload.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// mutation is a rollout subcommand that patches each object it selects: restart, pause,
// resume.
type mutation struct {
	// patchFor returns the JSON merge patch that makes the change to t, or why t cannot
	// take it.
	patchFor func(t cli.Target) ([]byte, error)
	// done is what the output says of a patched object: restarted, paused.
	done string
}

type mutateOptions struct {
	mutation
	streams      genericiooptions.IOStreams
	print        *cli.PrintFlags
	selector     string
	fieldManager string
}

func newMutateCmd(f *cli.Factory, streams genericiooptions.IOStreams, m mutation, cmd *cobra.Command, valid ...*cli.Kind) *cobra.Command {
	o := &mutateOptions{mutation: m, streams: streams, print: cli.NewPrintFlags()}
	cmd.DisableFlagsInUseLine = true
	cmd.ValidArgsFunction = cli.CompleteResources(f, valid...)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.print.Validate(); err != nil {
			return err
		}
		return o.run(cmd.Context(), f, args)
	}
	o.print.AddFlags(cmd)
	cmdutil.AddFieldManagerFlagVar(cmd, &o.fieldManager, "kubectl-rollout")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	return cmd
}

func (o *mutateOptions) run(ctx context.Context, f *cli.Factory, args []string) error {
	r, err := f.Resolve(ctx, args, o.selector, true)
	if err != nil {
		return err
	}
	if r.Empty(o.streams.ErrOut) {
		return nil
	}
	errs := r.Errors
	for _, t := range r.Targets {
		patch, err := o.patchFor(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("error: %s %q %w", t.Kind.GroupResource(), t.Object.GetName(), err))
			continue
		}
		obj := t.Object.DeepCopy()
		if err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(o.fieldManager)); err != nil {
			errs = append(errs, fmt.Errorf("failed to patch: %w", err))
			continue
		}
		if err := o.print.Print(o.streams.Out, t.Name(), obj, o.done); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

func newCmdRestart(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newMutateCmd(f, streams, mutation{patchFor: restartPatch(time.Now), done: "restarted"}, &cobra.Command{
		Use:   "restart RESOURCE",
		Short: "Restart a resource",
		Long: templates.LongDesc(`
			Restart a resource.

			Resource rollout will be restarted: the pod template gets the annotation
			kubectl.kubernetes.io/restartedAt with the current time, which rolls every pod
			over as any template change does.`),
		Example: templates.Examples(`
			# Restart all deployments in the test-namespace namespace
			kubectl kybern rollout restart deployment -n test-namespace

			# Restart a deployment
			kubectl kybern rollout restart deployment/nginx

			# Restart a daemon set
			kubectl kybern rollout restart daemonset/abc

			# Restart deployments with the app=nginx label
			kubectl kybern rollout restart deployment --selector=app=nginx`),
	}, kinds...)
}

// restartPatch stamps the pod template with now as restartedAt. A paused Deployment is
// refused, and so is a second restart within the same second, which would change nothing.
func restartPatch(now func() time.Time) func(cli.Target) ([]byte, error) {
	return func(t cli.Target) ([]byte, error) {
		switch t.Kind {
		case cli.Deployment:
			if paused, _, _ := unstructured.NestedBool(t.Object.Object, "spec", "paused"); paused {
				return nil, errors.New("can't restart paused deployment (run rollout resume first)")
			}
		case cli.DaemonSet, cli.StatefulSet:
		default:
			return nil, errors.New("restarting is not supported")
		}
		stamp := now().Format(time.RFC3339)
		if last, _, _ := unstructured.NestedString(t.Object.Object, "spec", "template", "metadata", "annotations", restartedAtAnnotation); last == stamp {
			return nil, errors.New("failed to create patch: if restart has already been triggered within the past second, please wait before attempting to trigger another")
		}
		return json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{restartedAtAnnotation: stamp}}}}})
	}
}

func newCmdPause(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newMutateCmd(f, streams, mutation{patchFor: pausePatch(true), done: "paused"}, &cobra.Command{
		Use:   "pause RESOURCE",
		Short: "Mark the provided resource as paused",
		Long: templates.LongDesc(`
			Mark the provided resource as paused.

			Paused resources will not be reconciled by a controller.
			Use "kubectl kybern rollout resume" to resume a paused resource.
			Currently only deployments support being paused.`),
		Example: templates.Examples(`
			# Mark the nginx deployment as paused
			# Any current state of the deployment will continue its function; new updates
			# to the deployment will not have an effect as long as the deployment is paused
			kubectl kybern rollout pause deployment/nginx`),
	}, cli.Deployment)
}

func newCmdResume(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newMutateCmd(f, streams, mutation{patchFor: pausePatch(false), done: "resumed"}, &cobra.Command{
		Use:   "resume RESOURCE",
		Short: "Resume a paused resource",
		Long: templates.LongDesc(`
			Resume a paused resource.

			Paused resources will not be reconciled by a controller. By resuming a
			resource, we allow it to be reconciled again.
			Currently only deployments support being resumed.`),
		Example: templates.Examples(`
			# Resume an already paused deployment
			kubectl kybern rollout resume deployment/nginx`),
	}, cli.Deployment)
}

// pausePatch sets a Deployment's spec.paused to paused (clearing it to resume). Other
// kinds cannot be paused, and a Deployment already so is refused, as upstream.
func pausePatch(paused bool) func(cli.Target) ([]byte, error) {
	verb, already := "pausing", "is already paused"
	if !paused {
		verb, already = "resuming", "is not paused"
	}
	return func(t cli.Target) ([]byte, error) {
		if t.Kind != cli.Deployment {
			return nil, fmt.Errorf("%s is not supported", verb)
		}
		if current, _, _ := unstructured.NestedBool(t.Object.Object, "spec", "paused"); current == paused {
			return nil, errors.New(already)
		}
		value := any(true)
		if !paused {
			value = nil
		}
		return json.Marshal(map[string]any{"spec": map[string]any{"paused": value}})
	}
}
