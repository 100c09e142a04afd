package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	watchtools "k8s.io/client-go/tools/watch"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type statusOptions struct {
	streams  genericiooptions.IOStreams
	selector string
	watch    bool
	revision int64
	timeout  time.Duration
}

func newCmdStatus(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &statusOptions{streams: streams, watch: true}
	cmd := &cobra.Command{
		Use:                   "status (TYPE NAME | TYPE/NAME) [flags]",
		DisableFlagsInUseLine: true,
		Short:                 "Show the status of the rollout",
		Long: templates.LongDesc(`
			Show the status of the rollout.

			By default 'rollout status' will watch the status of the latest rollout
			until it's done. If you don't want to wait for the rollout to finish then
			you can use --watch=false. Note that if a new rollout starts in-between, then
			'rollout status' will continue watching the latest revision. If you want to
			pin to a specific revision and abort if it is rolled over by another revision,
			use --revision=N where N is the revision you need to watch for.

			It exits non-zero when the rollout cannot finish: a deployment that exceeded
			its progress deadline, a pinned revision that was rolled over, or --timeout.`),
		Example: templates.Examples(`
			# Watch the rollout status of a deployment
			kubectl kybern rollout status deployment/nginx`),
		ValidArgsFunction: cli.CompleteResources(f, kinds...),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.revision < 0 {
				return fmt.Errorf("revision must be a positive integer: %v", o.revision)
			}
			return o.run(cmd.Context(), f, args)
		},
	}
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", o.watch, "Watch the status of the rollout until it's done.")
	cmd.Flags().Int64Var(&o.revision, "revision", o.revision, "Pin to a specific revision for showing its status. Defaults to 0 (last revision).")
	cmd.Flags().DurationVar(&o.timeout, "timeout", o.timeout, "The length of time to wait before ending watch, zero means never. Any other values should contain a corresponding time unit (e.g. 1s, 2m, 3h).")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	return cmd
}

func (o *statusOptions) run(ctx context.Context, f *cli.Factory, args []string) error {
	r, err := f.Resolve(ctx, args, o.selector, true)
	if err != nil {
		return err
	}
	if r.Empty(o.streams.ErrOut) {
		return nil
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	errs := r.Errors
	for _, t := range r.Targets {
		if err := o.await(ctx, dyn, t); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// await prints t's rollout status at every change of t until the rollout is done (at once
// without --watch), the rollout fails, t is deleted or --timeout passes. It watches,
// relisting should the watch break.
func (o *statusOptions) await(ctx context.Context, dyn dynamic.Interface, t cli.Target) error {
	byName := fields.OneTermEqualSelector("metadata.name", t.Object.GetName()).String()
	resource := dyn.Resource(t.Kind.GVR()).Namespace(t.Object.GetNamespace())
	lw := cli.FieldListWatch(resource, byName)
	ctx, cancel := watchtools.ContextWithOptionalTimeout(ctx, o.timeout)
	defer cancel()
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
		switch e.Type {
		case watch.Added, watch.Modified:
			msg, done, err := statusOf(t.Kind, e.Object.(*unstructured.Unstructured), o.revision)
			if err != nil {
				return false, err
			}
			fmt.Fprint(o.streams.Out, msg)
			return done || !o.watch, nil
		case watch.Deleted:
			// Whatever takes its name is another object, whose rollout this is not.
			return true, errors.New("object has been deleted")
		}
		return true, fmt.Errorf("internal error: unexpected event %#v", e)
	})
	return err
}
