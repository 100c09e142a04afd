package stream

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type portForwardOptions struct {
	addresses []string
}

// NewCmdPortForward is kubectl port-forward for kybern's pods, through their node agent.
func NewCmdPortForward(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &portForwardOptions{}
	cmd := &cobra.Command{
		Use:   "port-forward (POD | TYPE/NAME) [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward one or more local ports to a pod",
		Long: templates.LongDesc(`
			Forward local ports to ports on the localhost of a kybern Pod, or of the first
			pod of a workload, through the node agent that runs it, until interrupted. It
			needs create on nodes/proxy of kybern's Node (core.kybern.io) where the pod
			runs.`),
		Example: templates.Examples(`
			kubectl kybern port-forward web-0 8080:80
			kubectl kybern port-forward deployment/web :80
			kubectl kybern port-forward --address 0.0.0.0 web-0 8080:80`),
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: cli.CompleteNames(f, cli.Pod),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f, streams, args[0], args[1:])
		},
	}
	cmd.Flags().StringSliceVar(&o.addresses, "address", []string{"localhost"}, "Addresses to listen on (comma separated). Only accepts IP addresses or localhost as a value. When localhost is supplied, kubectl will try to bind on both 127.0.0.1 and ::1 and will fail if neither of these addresses are available to bind.")
	return cmd
}

func (o *portForwardOptions) run(ctx context.Context, f *cli.Factory, streams genericiooptions.IOStreams, arg string, ports []string) error {
	t, err := resolve(ctx, f, arg)
	if err != nil {
		return err
	}
	dialer, err := portForwardDialer(t, t.agentURL(url.Values{}, "portForward", t.pod.Namespace, t.pod.Name))
	if err != nil {
		return err
	}
	fw, err := portforward.NewOnAddressesForStreamingWithContext(ctx, dialer, o.addresses, ports, nil, streams.Out, streams.ErrOut)
	if err != nil {
		return err
	}
	err = fw.ForwardPorts()
	if errors.Is(err, portforward.ErrLostConnectionToPod) {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// portForwardDialer tunnels SPDY through websocket, falling back to SPDY when the agent
// does not upgrade, as kubectl does.
func portForwardDialer(t *target, u *url.URL) (httpstream.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(t.agent)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, t.agent)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialerForStreaming(tunnel, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}
