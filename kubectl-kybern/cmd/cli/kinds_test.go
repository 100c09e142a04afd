package cli

import "testing"

func TestLookupKind(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		want *Kind
	}{
		{"deployment", Deployment},
		{"deployments", Deployment},
		{"deploy", Deployment},
		{"Deployment", Deployment},
		{"kydeploy", Deployment},
		{"deployment.apps.kybern.io", Deployment},
		{"deployments.v1alpha1.apps.kybern.io", Deployment},
		{"deployment.apps", Deployment},
		{"deployments.v1.apps", Deployment},
		{"statefulset", StatefulSet},
		{"sts", StatefulSet},
		{"kysts", StatefulSet},
		{"daemonset", DaemonSet},
		{"ds", DaemonSet},
		{"rs", ReplicaSet},
		{"po", Pod},
		{"pods.core.kybern.io", Pod},
		{"node", Node},
		{"no", Node},
		{"kyno", Node},
		{"cj", CronJob},
		{"jobs.batch", Job},
		{"hpa", HorizontalPodAutoscaler},
		{"horizontalpodautoscalers.v2.autoscaling", HorizontalPodAutoscaler},
		{"kyeps", EndpointSlice},
		{"endpointslices.discovery.k8s.io", EndpointSlice},
		// Wrong groups and unknown names resolve to nothing.
		{"deployment.batch", nil},
		{"deployment.v1.batch", nil},
		{"pods.apps", nil},
		{"deployment.foo.kybern.io", nil},
		{"configmap", nil},
		{"", nil},
	} {
		got, err := LookupKind(tc.typ)
		if got != tc.want {
			t.Errorf("LookupKind(%q) = %v, want %v", tc.typ, got, tc.want)
		}
		if (err != nil) != (tc.want == nil) {
			t.Errorf("LookupKind(%q) error = %v", tc.typ, err)
		}
	}
}

func TestUnknownKindError(t *testing.T) {
	_, err := LookupKind("widgets")
	if err == nil || err.Error() != `the server doesn't have a resource type "widgets"` {
		t.Fatalf("error = %v, want kubectl's", err)
	}
}

func TestObjectName(t *testing.T) {
	for k, want := range map[*Kind]string{
		Deployment:  "deployment.apps.kybern.io/web",
		StatefulSet: "statefulset.apps.kybern.io/web",
		CronJob:     "cronjob.batch.kybern.io/web",
		Pod:         "pod/web",
		Node:        "node/web",
	} {
		if got := k.ObjectName("web"); got != want {
			t.Errorf("%s.ObjectName = %q, want %q", k.GVK.Kind, got, want)
		}
	}
}

func TestKindsAnswerToTheirOwnResource(t *testing.T) {
	for _, k := range Kinds {
		if got, err := LookupKind(k.Resource + "." + k.GVK.Group); err != nil || got != k {
			t.Errorf("LookupKind of %s's own resource = %v, %v", k.GVK.Kind, got, err)
		}
	}
}
