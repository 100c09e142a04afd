package stream

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/kubectl/pkg/util/term"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type execOptions struct {
	container string
	stdin     bool
	tty       bool
	quiet     bool
}

// NewCmdExec is kubectl exec for kybern's pods, run through their node agent.
func NewCmdExec(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]",
		Short: "Execute a command in a container",
		Long: templates.LongDesc(`
			Run a command in a container of a kybern Pod, or of the first pod of a workload,
			through the node agent that runs it. It needs create on nodes/proxy of kybern's
			Node (core.kybern.io) where the pod runs. The plugin exits with the command's
			exit code.`),
		Example: templates.Examples(`
			kubectl kybern exec web-0 -- date
			kubectl kybern exec -i web-0 -- sh -c 'cat > /tmp/in' < local.txt
			kubectl kybern exec -it deployment/web -c app -- sh`),
		ValidArgsFunction: cli.CompleteNames(f, cli.Pod),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if len(args) == 0 || dash == 0 {
				return errors.New("you must specify at least one command for the container")
			}
			if dash < 0 {
				if len(args) < 2 {
					return errors.New("you must specify at least one command for the container")
				}
				dash = 1
			}
			if dash != 1 {
				return fmt.Errorf("exec takes one pod before --, got %v", args[:dash])
			}
			return o.run(cmd.Context(), f, streams, args[0], args[1:])
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	flags.BoolVarP(&o.stdin, "stdin", "i", false, "Pass stdin to the container")
	flags.BoolVarP(&o.tty, "tty", "t", false, "Stdin is a TTY")
	flags.BoolVarP(&o.quiet, "quiet", "q", false, "Only print output from the remote session")
	return cmd
}

func (o *execOptions) run(ctx context.Context, f *cli.Factory, streams genericiooptions.IOStreams, arg string, command []string) error {
	t, err := resolve(ctx, f, arg)
	if err != nil {
		return err
	}
	name, err := container(t.pod, o.container, func(s string) {
		if !o.quiet {
			fmt.Fprintln(streams.ErrOut, s)
		}
	})
	if err != nil {
		return err
	}
	tty := term.TTY{In: streams.In, Out: streams.Out, Raw: o.stdin && o.tty}
	if o.tty && !tty.IsTerminalIn() {
		if !o.quiet {
			fmt.Fprintln(streams.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
		tty.Raw = false
	}
	useTTY := o.tty && tty.Raw
	q := url.Values{"command": command, "output": {"1"}}
	if o.stdin {
		q.Set("input", "1")
	}
	if useTTY {
		q.Set("tty", "1")
	} else {
		q.Set("error", "1")
	}
	u := t.agentURL(q, "exec", t.pod.Namespace, t.pod.Name, name)
	exe, err := executor(t, u)
	if err != nil {
		return err
	}
	opts := remotecommand.StreamOptions{Stdout: streams.Out, Tty: useTTY}
	if o.stdin {
		opts.Stdin = streams.In
	}
	if !useTTY {
		opts.Stderr = streams.ErrOut
	}
	if useTTY {
		opts.TerminalSizeQueue = sizeQueue{tty.MonitorSize(tty.GetSize())}
	}
	// A non-zero exit is a CodeExitError, which main exits with, as kubectl exec does.
	return tty.Safe(func() error { return exe.StreamWithContext(ctx, opts) })
}

// executor speaks websocket v5.channel.k8s.io, falling back to SPDY when the agent does
// not upgrade, as kubectl does.
func executor(t *target, u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(t.agent, "GET", u.String())
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(t.agent, "POST", u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// sizeQueue hands kubectl's terminal sizes to client-go.
type sizeQueue struct{ q term.TerminalSizeQueue }

func (s sizeQueue) Next() *remotecommand.TerminalSize {
	size := s.q.Next()
	if size == nil {
		return nil
	}
	return &remotecommand.TerminalSize{Width: size.Width, Height: size.Height}
}
