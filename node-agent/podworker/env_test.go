package podworker

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestContainerEnv(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"MODE": "fast", "LEVEL": "3"},
			BinaryData: map[string][]byte{"RAW": []byte("bytes")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}},
	).Build()
	in := envInput{reader: reader, hostIP: "10.0.0.1", allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}}
	cmKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	secretKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	resourceRef := func(res, divisor string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: res, Divisor: resource.MustParse(divisor)}}
	}
	limited := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("100Mi")}}

	cases := []struct {
		name      string
		envFrom   []corev1.EnvFromSource
		env       []corev1.EnvVar
		resources corev1.ResourceRequirements
		want      map[string]string
		wantErr   string
	}{
		{name: "configMapKeyRef and secretKeyRef", env: []corev1.EnvVar{{Name: "M", ValueFrom: cmKey("cfg", "MODE", false)}, {Name: "P", ValueFrom: secretKey("creds", "password", false)}},
			want: map[string]string{"M": "fast", "P": "s3cret"}},
		{name: "a binaryData key", env: []corev1.EnvVar{{Name: "R", ValueFrom: cmKey("cfg", "RAW", false)}}, want: map[string]string{"R": "bytes"}},
		{name: "a missing ConfigMap", env: []corev1.EnvVar{{Name: "M", ValueFrom: cmKey("late", "MODE", false)}}, wantErr: `configmap "late" not found`},
		{name: "a missing optional ConfigMap leaves the variable unset", env: []corev1.EnvVar{{Name: "M", ValueFrom: cmKey("late", "MODE", true)}, {Name: "X", Value: "1"}},
			want: map[string]string{"X": "1"}},
		{name: "a missing key", env: []corev1.EnvVar{{Name: "M", ValueFrom: cmKey("cfg", "NOPE", false)}}, wantErr: "couldn't find key NOPE in ConfigMap ns/cfg"},
		{name: "a missing optional key", env: []corev1.EnvVar{{Name: "M", ValueFrom: cmKey("cfg", "NOPE", true)}}, want: map[string]string{}},
		{name: "a missing secret key names the key, not the data", env: []corev1.EnvVar{{Name: "P", ValueFrom: secretKey("creds", "token", false)}},
			wantErr: "couldn't find key token in Secret ns/creds"},
		{name: "a missing Secret", env: []corev1.EnvVar{{Name: "P", ValueFrom: secretKey("nope", "token", false)}}, wantErr: `secret "nope" not found`},
		{name: "envFrom with a prefix, overridden by env, expanded by later values",
			envFrom: []corev1.EnvFromSource{{Prefix: "APP_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}},
			env:  []corev1.EnvVar{{Name: "APP_LEVEL", Value: "9"}, {Name: "URL", Value: "db://$(APP_MODE):$(password)@x"}},
			want: map[string]string{"APP_MODE": "fast", "APP_LEVEL": "9", "APP_RAW": "bytes", "password": "s3cret", "URL": "db://fast:s3cret@x"}},
		{name: "a missing envFrom source", envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}},
			wantErr: `secret "gone" not found`},
		{name: "a missing optional envFrom source", envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}}},
			want: map[string]string{}},
		{name: "resourceFieldRef rounds up, requests default to limits", resources: limited,
			env: []corev1.EnvVar{{Name: "CPU_M", ValueFrom: resourceRef("limits.cpu", "1m")}, {Name: "CPU", ValueFrom: resourceRef("limits.cpu", "1")},
				{Name: "MEM_MI", ValueFrom: resourceRef("requests.memory", "1Mi")}},
			want: map[string]string{"CPU_M": "250", "CPU": "1", "MEM_MI": "100"}},
		{name: "an unset limit is the node's allocatable", env: []corev1.EnvVar{{Name: "MEM", ValueFrom: resourceRef("limits.memory", "1Gi")}, {Name: "REQ", ValueFrom: resourceRef("requests.cpu", "1m")}},
			want: map[string]string{"MEM": "8", "REQ": "0"}},
		{name: "fieldRefs", env: []corev1.EnvVar{{Name: "NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "TIER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}}},
			{Name: "HOST", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}}},
			want: map[string]string{"NAME": "web", "TIER": "front", "HOST": "10.0.0.1"}},
		{name: "an unsupported fieldRef", env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.priority"}}}},
			wantErr: `env X: fieldRef "spec.priority" is not a supported field`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"tier": "front"}}}
			c := corev1.Container{Name: "main", EnvFrom: tc.envFrom, Env: tc.env, Resources: tc.resources}
			pod.Spec.Containers = []corev1.Container{c}
			got, err := containerEnv(context.Background(), in, pod, &c)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, v := range got {
				m[v.Name] = v.Value
			}
			if len(m) != len(tc.want) {
				t.Fatalf("env %v, want %v", m, tc.want)
			}
			for k, v := range tc.want {
				if m[k] != v {
					t.Fatalf("env %s=%q, want %q (all: %v)", k, m[k], v, m)
				}
			}
		})
	}
}

// The kubernetes Service's variables come after the container's own, which override them,
// and expand in its values, as upstream's service environment does.
func TestContainerEnvServiceVariables(t *testing.T) {
	in := envInput{services: []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "10.96.0.1"}, {Name: "KUBERNETES_SERVICE_PORT", Value: "443"}}}
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	c := &corev1.Container{Name: "c", Env: []corev1.EnvVar{
		{Name: "URL", Value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
		{Name: "KUBERNETES_SERVICE_PORT", Value: "8443"},
	}}
	got, err := containerEnv(context.Background(), in, pod, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.EnvVar{{Name: "URL", Value: "https://10.96.0.1:443"}, {Name: "KUBERNETES_SERVICE_PORT", Value: "8443"},
		{Name: "KUBERNETES_SERVICE_HOST", Value: "10.96.0.1"}}
	if len(got) != len(want) {
		t.Fatalf("env = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("env[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// Command and args expand $(NAME) of the container's environment, as upstream's kubelet
// does: $$ escapes, and an unknown name stays as written.
func TestExpandAll(t *testing.T) {
	env := []corev1.EnvVar{{Name: "POD_IP", Value: "10.244.0.7"}, {Name: "PORT", Value: "9443"}}
	got := expandAll([]string{"--bind=$(POD_IP):$(PORT)", "$$(POD_IP)", "$(MISSING)", "plain"}, env)
	want := []string{"--bind=10.244.0.7:9443", "$(POD_IP)", "$(MISSING)", "plain"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("expandAll = %q, want %q", got, want)
	}
	if expandAll(nil, env) != nil {
		t.Fatal("no args became some")
	}
}
