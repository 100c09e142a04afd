package top

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

const podList = `{"kind":"PodMetricsList","apiVersion":"metrics.kybern.io/v1beta1","items":[
{"metadata":{"name":"small","namespace":"web"},"containers":[{"name":"app","usage":{"cpu":"1000000n","memory":"4Mi"}}]},
{"metadata":{"name":"busy","namespace":"web"},"containers":[{"name":"app","usage":{"cpu":"250m","memory":"8Mi"}},{"name":"sidecar","usage":{"cpu":"50m","memory":"2Mi"}}]}]}`

func run(t *testing.T, handler http.HandlerFunc, args ...string) (string, error) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	out := &bytes.Buffer{}
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: &bytes.Buffer{}}
	f := cli.NewFactory(streams)
	*f.Flags.APIServer, *f.Flags.Namespace = srv.URL, "web"
	empty := ""
	f.Flags.KubeConfig = &empty
	cmd := NewCmdTop(f, streams)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	err := cmd.Execute()
	return out.String(), err
}

func TestTopPodSumsContainersAndSorts(t *testing.T) {
	var asked string
	out, err := run(t, func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.String()
		_, _ = w.Write([]byte(podList))
	}, "pod", "-l", "app=web", "--sort-by=cpu")
	if err != nil {
		t.Fatal(err)
	}
	if asked != "/apis/metrics.kybern.io/v1beta1/namespaces/web/pods?labelSelector=app%3Dweb" {
		t.Errorf("asked %s", asked)
	}
	want := "NAME    CPU(cores)   MEMORY(bytes)\nbusy    300m         10Mi\nsmall   1m           4Mi\n"
	if strings.Join(strings.Fields(out), " ") != strings.Join(strings.Fields(want), " ") || !strings.HasPrefix(out, "NAME ") {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTopPodContainers(t *testing.T) {
	out, err := run(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(podList)) }, "pod", "--containers", "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, line := range []string{"small app 1m 4Mi busy app 250m 8Mi busy sidecar 50m 2Mi"} {
		if flat != line {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestTopWithoutTheMetricsAPI(t *testing.T) {
	_, err := run(t, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, "pod")
	if !errors.Is(err, ErrNoMetrics) {
		t.Errorf("got %v, want ErrNoMetrics", err)
	}
	if _, err := run(t, func(http.ResponseWriter, *http.Request) {}, "pod", "--sort-by=age"); err == nil || !strings.Contains(err.Error(), "--sort-by=age") {
		t.Errorf("got %v, want an error naming --sort-by", err)
	}
}
