package rollout

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

func numbered(ns ...int64) []*revision {
	var out []*revision
	for _, n := range ns {
		out = append(out, &revision{number: n, template: &corev1.PodTemplateSpec{}})
	}
	return out
}

func TestFindRevision(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind *cli.Kind
		revs []*revision
		n    int64
		want int64
		err  string
	}{
		{name: "previous", kind: cli.Deployment, revs: numbered(1, 2, 5), want: 2},
		{name: "given", kind: cli.StatefulSet, revs: numbered(1, 2, 5), n: 5, want: 5},
		{name: "given absent", kind: cli.Deployment, revs: numbered(1, 2), n: 3, err: "unable to find specified revision 3 in history"},
		{name: "negative", kind: cli.DaemonSet, revs: numbered(1, 2), n: -1, err: "unable to find specified revision -1 in history"},
		{name: "deployment without a previous", kind: cli.Deployment, revs: numbered(4), err: `no rollout history found for deployment "web"`},
		{name: "daemon set without a previous", kind: cli.DaemonSet, revs: numbered(4), err: "no last revision to roll back to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findRevision(tc.kind, "web", tc.revs, tc.n)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.number != tc.want {
				t.Fatalf("revision = %v, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestRevisionTemplate(t *testing.T) {
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-abc"}, Revision: 2, Data: runtime.RawExtension{Raw: []byte(
		`{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"db:1","futureField":"kept"}]}}}}`)}}
	raw, template, err := revisionTemplate(cr)
	if err != nil {
		t.Fatal(err)
	}
	if _, found := raw["$patch"]; found {
		t.Error("the raw template keeps the $patch directive")
	}
	containers := raw["spec"].(map[string]any)["containers"].([]any)
	if containers[0].(map[string]any)["futureField"] != "kept" {
		t.Errorf("the raw template lost an unknown field: %v", containers)
	}
	if template.Spec.Containers[0].Image != "db:1" || template.Labels["app"] != "db" {
		t.Errorf("typed template = %+v", template)
	}

	for _, data := range []string{`not json`, `{"spec":{}}`} {
		cr.Data.Raw = []byte(data)
		if _, _, err := revisionTemplate(cr); err == nil || !strings.Contains(err.Error(), "unable to parse history db-abc") {
			t.Errorf("data %s: error = %v", data, err)
		}
	}
}

func TestHistoryText(t *testing.T) {
	revs := numbered(1, 2, 10)
	revs[1].annotations = map[string]string{changeCauseAnnotation: "kubectl set image deployment/web web=web:2"}
	revs[2].template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:10"}}}}

	got, err := historyText(revs, 0)
	want := "REVISION  CHANGE-CAUSE\n" +
		"1         <none>\n" +
		"2         kubectl set image deployment/web web=web:2\n" +
		"10        <none>\n"
	if err != nil || got != want {
		t.Errorf("table = %q, %v; want %q", got, err, want)
	}

	got, err = historyText(revs, 10)
	if err != nil || !strings.HasPrefix(got, "Pod Template:\n") || !strings.Contains(got, "Image:") || !strings.Contains(got, "web:10") {
		t.Errorf("revision 10 = %q, %v", got, err)
	}
	if _, err := historyText(revs, 3); err == nil || err.Error() != "unable to find the specified revision" {
		t.Errorf("absent revision error = %v", err)
	}
	if got, _ := historyText(nil, 0); got != "No rollout history found." {
		t.Errorf("empty history = %q", got)
	}
}
