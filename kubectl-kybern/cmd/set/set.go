// Package set is kubectl set for kybern's workloads: set image.
package set

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// NewCmdSet returns the set command and its subcommands.
func NewCmdSet(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "set SUBCOMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "Set specific features on objects",
		Long: templates.LongDesc(`
			Configure application resources.

			These commands help you make changes to existing application resources.`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdImage(f, streams))
	return cmd
}

type imageOptions struct {
	streams      genericiooptions.IOStreams
	print        *cli.PrintFlags
	selector     string
	all          bool
	fieldManager string
	dryRun       cmdutil.DryRunStrategy
}

func newCmdImage(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &imageOptions{streams: streams, print: cli.NewPrintFlags()}
	cmd := &cobra.Command{
		Use:                   "image (TYPE NAME | TYPE/NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N",
		DisableFlagsInUseLine: true,
		Short:                 "Update the image of a pod template",
		Long: templates.LongDesc(`
			Update existing container image(s) of resources, init containers included.

			Possible resources include (case insensitive), with upstream's or kybern's names:

			  pod (po), replicaset (rs), deployment (deploy), daemonset (ds), statefulset (sts), cronjob (cj), job`),
		Example: templates.Examples(`
			# Set a deployment's nginx container image to 'nginx:1.9.1', and its busybox container image to 'busybox'
			kubectl kybern set image deployment/nginx busybox=busybox nginx=nginx:1.9.1

			# Update all deployments' and daemon sets' nginx container's image to 'nginx:1.9.1'
			kubectl kybern set image deployments,daemonsets nginx=nginx:1.9.1 --all

			# Update image of all containers of daemonset abc to 'nginx:1.9.1'
			kubectl kybern set image daemonset abc *=nginx:1.9.1`),
		ValidArgsFunction: cli.CompleteResources(f, imageKinds...),
		RunE: func(cmd *cobra.Command, args []string) error {
			resources, images, err := parseImageArgs(args)
			if err != nil {
				return err
			}
			if err := o.validate(resources, images); err != nil {
				return err
			}
			if o.dryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context(), f, resources, images)
		},
	}
	o.print.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.all, "all", o.all, "Select all resources, in the namespace of the specified resource types")
	cmdutil.AddDryRunFlag(cmd)
	cmdutil.AddFieldManagerFlagVar(cmd, &o.fieldManager, "kubectl-set")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.selector)
	return cmd
}

// parseImageArgs splits set image's arguments into resources and CONTAINER=IMAGE pairs.
func parseImageArgs(args []string) ([]string, map[string]string, error) {
	resources, pairs, err := cmdutil.GetResourcesAndPairs(args, "image")
	if err != nil {
		return nil, nil, err
	}
	images, _, err := cmdutil.ParsePairs(pairs, "image", false)
	return resources, images, err
}

func (o *imageOptions) validate(resources []string, images map[string]string) error {
	var errs []error
	if o.all && o.selector != "" {
		errs = append(errs, errors.New("cannot set --all and --selector at the same time"))
	}
	if len(resources) == 0 {
		errs = append(errs, errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>"))
	}
	if _, wildcard := images["*"]; len(images) == 0 {
		errs = append(errs, errors.New("at least one image update is required"))
	} else if wildcard && len(images) > 1 {
		errs = append(errs, errors.New("all containers are already specified by *, but saw more than one container_name=container_image pairs"))
	}
	if err := o.print.Validate(); err != nil {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

// run sets the images of every selected object. As upstream, an object whose images are
// already those given is left alone and not reported, and a container name no container
// has is an error while the other names still apply.
func (o *imageOptions) run(ctx context.Context, f *cli.Factory, resources []string, images map[string]string) error {
	r, err := f.Resolve(ctx, resources, o.selector, o.all)
	if err != nil {
		return err
	}
	errs := r.Errors
	for _, t := range r.Targets {
		obj := t.Object.DeepCopy()
		patch, missing, err := setImages(t.Kind, obj, images)
		if err != nil {
			errs = append(errs, fmt.Errorf("error: %s %w", t.Name(), err))
			continue
		}
		for _, name := range missing {
			errs = append(errs, fmt.Errorf("error: unable to find container named %q", name))
		}
		if patch == nil {
			continue
		}
		if o.dryRun != cmdutil.DryRunClient {
			opts := []client.PatchOption{client.FieldOwner(o.fieldManager)}
			if o.dryRun == cmdutil.DryRunServer {
				opts = append(opts, client.DryRunAll)
			}
			obj = t.Object.DeepCopy()
			if err := r.Client.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch), opts...); err != nil {
				errs = append(errs, fmt.Errorf("failed to patch image update to pod template: %w", err))
				continue
			}
		}
		if err := o.print.Print(o.streams.Out, t.Name(), obj, cli.DryRunOperation("image updated", o.dryRun)); err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}
