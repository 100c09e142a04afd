package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

type logsOptions struct {
	container     string
	allContainers bool
	follow        bool
	previous      bool
	timestamps    bool
	tail          int64
	since         time.Duration
	sinceTime     string
	limitBytes    int64
	prefix        bool
}

// NewCmdLogs is kubectl logs for kybern's pods, read from their node agent.
func NewCmdLogs(f *cli.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]",
		Short: "Print the logs for a container in a pod",
		Long: templates.LongDesc(`
			Print the logs of a container of a kybern Pod, or of the first pod of a workload
			(deployment/web), read from the node agent that runs it. Reading logs needs get
			on nodes/proxy of kybern's Node (core.kybern.io) where the pod runs.`),
		Example: templates.Examples(`
			kubectl kybern logs web-5d8f7c-abcde
			kubectl kybern logs -f deployment/web -c app --tail=10
			kubectl kybern logs -p web-0 --timestamps`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteNames(f, cli.Pod),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f, streams, args[0], cmd.Flags().Changed("tail"))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.container, "container", "c", "", "Print the logs of this container")
	flags.BoolVar(&o.allContainers, "all-containers", false, "Get all containers' logs in the pod(s).")
	flags.BoolVarP(&o.follow, "follow", "f", false, "Specify if the logs should be streamed.")
	flags.BoolVarP(&o.previous, "previous", "p", false, "If true, print the logs for the previous instance of the container in a pod if it exists.")
	flags.BoolVar(&o.timestamps, "timestamps", false, "Include timestamps on each line in the log output")
	flags.Int64Var(&o.tail, "tail", -1, "Lines of recent log file to display. Defaults to -1, showing all log lines.")
	flags.DurationVar(&o.since, "since", 0, "Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all logs. Only one of since-time / since may be used.")
	flags.StringVar(&o.sinceTime, "since-time", "", "Only return logs after a specific date (RFC3339). Defaults to all logs. Only one of since-time / since may be used.")
	flags.Int64Var(&o.limitBytes, "limit-bytes", 0, "Maximum bytes of logs to return. Defaults to no limit.")
	flags.BoolVar(&o.prefix, "prefix", false, "Prefix each log line with the log source (pod name and container name)")
	return cmd
}

func (o *logsOptions) run(ctx context.Context, f *cli.Factory, streams genericiooptions.IOStreams, arg string, tailSet bool) error {
	if o.since != 0 && o.sinceTime != "" {
		return errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if o.allContainers && o.container != "" {
		return errors.New("--all-containers=true should not be specified with container name " + o.container)
	}
	q := url.Values{}
	setBool := func(key string, v bool) {
		if v {
			q.Set(key, "true")
		}
	}
	setBool("follow", o.follow)
	setBool("previous", o.previous)
	setBool("timestamps", o.timestamps)
	if tailSet && o.tail >= 0 {
		q.Set("tailLines", strconv.FormatInt(o.tail, 10))
	}
	if o.since != 0 {
		q.Set("sinceSeconds", strconv.FormatInt(int64(max(o.since.Round(time.Second), time.Second)/time.Second), 10))
	}
	if o.sinceTime != "" {
		if _, err := time.Parse(time.RFC3339, o.sinceTime); err != nil {
			return fmt.Errorf("--since-time=%s: must be an RFC3339 time, such as 2026-01-02T15:04:05Z", o.sinceTime)
		}
		q.Set("sinceTime", o.sinceTime)
	}
	if o.limitBytes != 0 {
		q.Set("limitBytes", strconv.FormatInt(o.limitBytes, 10))
	}
	t, err := resolve(ctx, f, arg)
	if err != nil {
		return err
	}
	var names []string
	if o.allContainers {
		for _, c := range t.pod.Spec.InitContainers {
			names = append(names, c.Name)
		}
		for _, c := range t.pod.Spec.Containers {
			names = append(names, c.Name)
		}
	} else {
		name, err := container(t.pod, o.container, func(s string) { fmt.Fprintln(streams.ErrOut, s) })
		if err != nil {
			return err
		}
		names = []string{name}
	}
	client, err := rest.HTTPClientFor(t.agent)
	if err != nil {
		return err
	}
	for _, name := range names {
		out := streams.Out
		if o.prefix {
			out = &prefixWriter{w: streams.Out, prefix: fmt.Sprintf("[pod/%s/%s] ", t.pod.Name, name)}
		}
		if err := t.copyLogs(ctx, client, name, q, out); err != nil {
			return err
		}
	}
	return nil
}

// copyLogs copies container name's log, as q asks, to out.
func (t *target) copyLogs(ctx context.Context, client *http.Client, name string, q url.Values, out io.Writer) error {
	u := t.agentURL(q, "containerLogs", t.pod.Namespace, t.pod.Name, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reading the logs of pod %s/%s from its node agent at %s: %w", t.pod.Namespace, t.pod.Name, u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return agentError(resp.StatusCode, body)
	}
	_, err = io.Copy(out, resp.Body)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// agentError is what an agent's refusal tells the user.
func agentError(code int, body []byte) error {
	msg := string(body)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	switch code {
	case http.StatusUnauthorized:
		return fmt.Errorf("the node agent did not accept your credentials (401 %s): it accepts bearer tokens and client certificates that the apiserver does", msg)
	case http.StatusForbidden:
		return fmt.Errorf("%s: ask for that permission on nodes of core.kybern.io (kubectl create clusterrole ... --verb=get,create --resource=nodes.core.kybern.io/proxy)", msg)
	}
	return errors.New(msg)
}

// prefixWriter starts every line with prefix.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
			p.midLine = true
		}
		out = append(out, c)
		if c == '\n' {
			p.midLine = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
