package rollout

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// templateMap is a pod template as the API server returns it, with a field no Go type of
// this plugin knows.
func templateMap(image string, labels map[string]any) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"labels": labels},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": image, "futureField": "kept"}}},
	}
}

func target(kind *cli.Kind, template map[string]any, annotations map[string]any) cli.Target {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kind.GVK.GroupVersion().String(), "kind": kind.GVK.Kind,
		"metadata": map[string]any{"name": "web", "namespace": "ns", "annotations": annotations},
		"spec":     map[string]any{"template": template},
	}}
	return cli.Target{Kind: kind, Object: obj}
}

func recorded(n int64, template map[string]any, annotations map[string]string) *revision {
	typed := &corev1.PodTemplateSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(template, typed); err != nil {
		panic(err)
	}
	return &revision{number: n, template: typed, rawTemplate: template, annotations: annotations}
}

func decodeOps(t *testing.T, patch []byte) []map[string]any {
	t.Helper()
	var ops []map[string]any
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	return ops
}

func TestUndoPatchDeployment(t *testing.T) {
	d := target(cli.Deployment, templateMap("web:2", map[string]any{"app": "web"}), map[string]any{
		revisionAnnotation: "3", changeCauseAnnotation: "v2", corev1.LastAppliedConfigAnnotation: "{}"})
	rs := recorded(1, templateMap("web:1", map[string]any{"app": "web", podTemplateHashLabel: "abc"}), map[string]string{
		revisionAnnotation: "1", changeCauseAnnotation: "v1", "team": "a", "deployment.kubernetes.io/desired-replicas": "3"})

	patch, err := undoPatch(d, rs)
	if err != nil {
		t.Fatal(err)
	}
	ops := decodeOps(t, patch)
	if len(ops) != 2 || ops[0]["op"] != "replace" || ops[0]["path"] != "/spec/template" || ops[1]["path"] != "/metadata/annotations" {
		t.Fatalf("ops = %v", ops)
	}
	if want := templateMap("web:1", map[string]any{"app": "web"}); !reflect.DeepEqual(ops[0]["value"], want) {
		t.Errorf("template = %v, want the revision's without its hash label, unknown fields kept: %v", ops[0]["value"], want)
	}
	wantAnnotations := map[string]any{revisionAnnotation: "3", changeCauseAnnotation: "v1", "team": "a", corev1.LastAppliedConfigAnnotation: "{}"}
	if !reflect.DeepEqual(ops[1]["value"], wantAnnotations) {
		t.Errorf("annotations = %v, want %v", ops[1]["value"], wantAnnotations)
	}
	if rs.rawTemplate["metadata"].(map[string]any)["labels"].(map[string]any)[podTemplateHashLabel] != "abc" {
		t.Error("undoPatch changed the revision's template")
	}

	same := recorded(3, templateMap("web:2", map[string]any{"app": "web", podTemplateHashLabel: "def"}), nil)
	if patch, err := undoPatch(d, same); err != nil || patch != nil {
		t.Errorf("undo to the running template = %s, %v; want no patch", patch, err)
	}
}

func TestUndoPatchControllerRevision(t *testing.T) {
	for _, k := range []*cli.Kind{cli.StatefulSet, cli.DaemonSet} {
		sts := target(k, templateMap("db:2", map[string]any{"app": "db"}), nil)
		rev := recorded(1, templateMap("db:1", map[string]any{"app": "db"}), nil)
		patch, err := undoPatch(sts, rev)
		if err != nil {
			t.Fatal(err)
		}
		ops := decodeOps(t, patch)
		if len(ops) != 1 || ops[0]["path"] != "/spec/template" || !reflect.DeepEqual(ops[0]["value"], rev.rawTemplate) {
			t.Errorf("%s ops = %v", k.GVK.Kind, ops)
		}
		if patch, err := undoPatch(sts, recorded(2, templateMap("db:2", map[string]any{"app": "db"}), nil)); err != nil || patch != nil {
			t.Errorf("%s undo to the running template = %s, %v; want no patch", k.GVK.Kind, patch, err)
		}
	}
}
