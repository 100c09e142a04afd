package set

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

func podSpec() map[string]any {
	return map[string]any{
		"initContainers": []any{map[string]any{"name": "init", "image": "init:1"}},
		"containers": []any{
			map[string]any{"name": "web", "image": "web:1", "futureField": "kept"},
			map[string]any{"name": "sidecar", "image": "sidecar:1"},
		},
	}
}

func object(k *cli.Kind) *unstructured.Unstructured {
	spec := map[string]any{"template": map[string]any{"spec": podSpec()}}
	switch k {
	case cli.Pod:
		spec = podSpec()
	case cli.CronJob:
		spec = map[string]any{"jobTemplate": map[string]any{"spec": spec}}
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": k.GVK.GroupVersion().String(), "kind": k.GVK.Kind, "spec": spec}}
}

func TestSetImages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    *cli.Kind
		images  map[string]string
		prefix  string
		ops     []map[string]any
		missing []string
	}{
		{name: "deployment container", kind: cli.Deployment, images: map[string]string{"web": "web:2"}, prefix: "/spec/template/spec",
			ops: []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"},
				{"op": "add", "path": "/spec/template/spec/containers/0/image", "value": "web:2"}}},
		{name: "pod init container", kind: cli.Pod, images: map[string]string{"init": "init:2"},
			ops: []map[string]any{
				{"op": "test", "path": "/spec/initContainers/0/name", "value": "init"},
				{"op": "add", "path": "/spec/initContainers/0/image", "value": "init:2"}}},
		{name: "cronjob wildcard", kind: cli.CronJob, images: map[string]string{"*": "all:2"},
			ops: []map[string]any{
				{"op": "test", "path": "/spec/jobTemplate/spec/template/spec/initContainers/0/name", "value": "init"},
				{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/initContainers/0/image", "value": "all:2"},
				{"op": "test", "path": "/spec/jobTemplate/spec/template/spec/containers/0/name", "value": "web"},
				{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/0/image", "value": "all:2"},
				{"op": "test", "path": "/spec/jobTemplate/spec/template/spec/containers/1/name", "value": "sidecar"},
				{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/1/image", "value": "all:2"}}},
		{name: "unknown container", kind: cli.StatefulSet, images: map[string]string{"sidecar": "sidecar:2", "x": "x:1"},
			ops: []map[string]any{
				{"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "sidecar"},
				{"op": "add", "path": "/spec/template/spec/containers/1/image", "value": "sidecar:2"}},
			missing: []string{"x"}},
		{name: "unchanged", kind: cli.Job, images: map[string]string{"web": "web:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := object(tc.kind)
			patch, missing, err := setImages(tc.kind, obj, tc.images)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(missing, tc.missing) {
				t.Errorf("missing = %v, want %v", missing, tc.missing)
			}
			if tc.ops == nil {
				if patch != nil {
					t.Errorf("patch = %s, want none", patch)
				}
				return
			}
			var ops []map[string]any
			if err := json.Unmarshal(patch, &ops); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ops, tc.ops) {
				t.Errorf("ops = %v\nwant %v", ops, tc.ops)
			}
		})
	}
}

func TestSetImagesChangesTheObjectInPlace(t *testing.T) {
	obj := object(cli.DaemonSet)
	if _, _, err := setImages(cli.DaemonSet, obj, map[string]string{"web": "web:2"}); err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	web := containers[0].(map[string]any)
	if web["image"] != "web:2" || web["futureField"] != "kept" {
		t.Errorf("container = %v, want the new image and the unknown field kept", web)
	}
}

func TestSetImagesRefusesKindsWithoutPods(t *testing.T) {
	if _, _, err := setImages(cli.Service, object(cli.Service), map[string]string{"*": "x"}); err == nil {
		t.Error("set image on a Service was accepted")
	}
}

func TestParseImageArgs(t *testing.T) {
	resources, images, err := parseImageArgs([]string{"deployment/web", "web=web:2", "init=init:2"})
	if err != nil || !reflect.DeepEqual(resources, []string{"deployment/web"}) || !reflect.DeepEqual(images, map[string]string{"web": "web:2", "init": "init:2"}) {
		t.Errorf("parsed = %v, %v, %v", resources, images, err)
	}
	if _, _, err := parseImageArgs([]string{"web=web:2", "deployment/web"}); err == nil {
		t.Error("a resource after an image pair was accepted")
	}
}

func TestValidate(t *testing.T) {
	o := &imageOptions{print: cli.NewPrintFlags()}
	if err := o.validate(nil, nil); err == nil {
		t.Error("no resources and no images were accepted")
	}
	if err := o.validate([]string{"deploy/web"}, map[string]string{"*": "a", "web": "b"}); err == nil {
		t.Error("* with another container was accepted")
	}
	o.all, o.selector = true, "app=web"
	if err := o.validate([]string{"deploy"}, map[string]string{"web": "b"}); err == nil {
		t.Error("--all with --selector was accepted")
	}
	o.all = false
	if err := o.validate([]string{"deploy"}, map[string]string{"web": "b"}); err != nil {
		t.Error(err)
	}
}
