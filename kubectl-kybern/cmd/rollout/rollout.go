// Package rollout is kubectl rollout for kybern's Deployments, DaemonSets and
// StatefulSets: status, history, undo, restart, pause and resume, with upstream's flags,
// messages and exit codes. A Deployment's history is its ReplicaSets, numbered by their
// deployment.kubernetes.io/revision annotation; a DaemonSet's or StatefulSet's is its
// ControllerRevisions (apps/v1), whose data is a patch that puts a template back.
package rollout

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// kinds are the kinds rollout manages.
var kinds = []*cli.Kind{cli.Deployment, cli.DaemonSet, cli.StatefulSet}

const validResources = `
	Valid resource types include:

	   * deployments
	   * daemonsets
	   * statefulsets

	Upstream's names (deployment/web, sts/db, ds/agent) and kybern's (kydeploy/web,
	deployment.apps.kybern.io/web) all name the kybern objects.`

// NewCmdRollout returns the rollout command and its subcommands.
func NewCmdRollout(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "rollout SUBCOMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "Manage the rollout of a resource",
		Long:                  templates.LongDesc(`Manage the rollout of one or many resources.` + validResources),
		Example: templates.Examples(`
			# Roll back to the previous deployment
			kubectl kybern rollout undo deployment/abc

			# Check the rollout status of a daemonset
			kubectl kybern rollout status daemonset/foo

			# Restart a deployment
			kubectl kybern rollout restart deployment/abc

			# Restart deployments with the 'app=nginx' label
			kubectl kybern rollout restart deployment --selector=app=nginx`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newCmdHistory(f, streams),
		newCmdPause(f, streams),
		newCmdResume(f, streams),
		newCmdUndo(f, streams),
		newCmdStatus(f, streams),
		newCmdRestart(f, streams),
	)
	return cmd
}
