package convert

import (
	"reflect"
	"strings"
	"testing"
)

func manifest(apiVersion, kind string) map[string]any {
	return map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": "x", "annotations": map[string]any{"a": "b"}},
		"spec":     map[string]any{"futureField": map[string]any{"kept": true}},
		"status":   map[string]any{"observedGeneration": int64(1)},
	}
}

func TestObject(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"apps/v1", "Deployment", "apps.kybern.io/v1alpha1"},
		{"apps/v1", "ReplicaSet", "apps.kybern.io/v1alpha1"},
		{"apps/v1", "DaemonSet", "apps.kybern.io/v1alpha1"},
		{"apps/v1", "StatefulSet", "apps.kybern.io/v1alpha1"},
		{"batch/v1", "Job", "batch.kybern.io/v1alpha1"},
		{"batch/v1", "CronJob", "batch.kybern.io/v1alpha1"},
		{"v1", "Pod", "core.kybern.io/v1alpha1"},
		{"v1", "Service", "core.kybern.io/v1alpha1"},
		{"discovery.k8s.io/v1", "EndpointSlice", "core.kybern.io/v1alpha1"},
		{"autoscaling/v2", "HorizontalPodAutoscaler", "autoscaling.kybern.io/v1alpha1"},
		// Passed through: kinds kybern does not serve, and kybern's own.
		{"v1", "ConfigMap", "v1"},
		{"v1", "Secret", "v1"},
		{"v1", "Namespace", "v1"},
		{"v1", "ServiceAccount", "v1"},
		{"networking.k8s.io/v1", "Ingress", "networking.k8s.io/v1"},
		{"apps.kybern.io/v1alpha1", "Deployment", "apps.kybern.io/v1alpha1"},
		{"example.com/v1", "Deployment", "example.com/v1"},
	} {
		obj := manifest(tc.apiVersion, tc.kind)
		if err := Object(obj); err != nil {
			t.Errorf("%s %s: %v", tc.apiVersion, tc.kind, err)
			continue
		}
		want := manifest(tc.want, tc.kind)
		if !reflect.DeepEqual(obj, want) {
			t.Errorf("%s %s converted to %v, want %v", tc.apiVersion, tc.kind, obj, want)
		}
	}
}

func TestObjectScaleTargetRef(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"apps/v1", "Deployment", "apps.kybern.io/v1alpha1"},
		{"apps/v1", "StatefulSet", "apps.kybern.io/v1alpha1"},
		{"apps/v1", "ReplicaSet", "apps.kybern.io/v1alpha1"},
		{"example.com/v1", "Widget", "example.com/v1"},
	} {
		hpa := manifest("autoscaling/v2", "HorizontalPodAutoscaler")
		hpa["spec"] = map[string]any{"scaleTargetRef": map[string]any{"apiVersion": tc.apiVersion, "kind": tc.kind, "name": "web"}, "maxReplicas": int64(5)}
		if err := Object(hpa); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"scaleTargetRef": map[string]any{"apiVersion": tc.want, "kind": tc.kind, "name": "web"}, "maxReplicas": int64(5)}
		if !reflect.DeepEqual(hpa["spec"], want) {
			t.Errorf("spec = %v, want %v", hpa["spec"], want)
		}
	}
}

func TestObjectRefusesOtherVersions(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"autoscaling/v1", "HorizontalPodAutoscaler", "rewrite it as autoscaling/v2 (spec.targetCPUUtilizationPercentage"},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "takes the autoscaling/v2 spec"},
		{"extensions/v1beta1", "Deployment", "takes the apps/v1 spec"},
		{"apps/v1beta2", "DaemonSet", "takes the apps/v1 spec"},
		{"batch/v1beta1", "CronJob", "takes the batch/v1 spec"},
	} {
		err := Object(manifest(tc.apiVersion, tc.kind))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s %s: error = %v, want one naming the object and containing %q", tc.apiVersion, tc.kind, err, tc.want)
		}
	}
}

func TestObjectList(t *testing.T) {
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{manifest("apps/v1", "Deployment"), manifest("v1", "ConfigMap")}}
	if err := Object(list); err != nil {
		t.Fatal(err)
	}
	items := list["items"].([]any)
	if items[0].(map[string]any)["apiVersion"] != "apps.kybern.io/v1alpha1" || items[1].(map[string]any)["apiVersion"] != "v1" {
		t.Errorf("items = %v", items)
	}
	bad := map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{manifest("autoscaling/v1", "HorizontalPodAutoscaler")}}
	if err := Object(bad); err == nil || !strings.Contains(err.Error(), "item 0 of List") {
		t.Errorf("error = %v", err)
	}
}
