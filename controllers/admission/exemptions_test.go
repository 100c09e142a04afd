package admission

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return scheme
}

func podRequest(pod *corev1alpha1.Pod, user string) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind:     metav1.GroupVersionKind(corev1alpha1.GroupVersion.WithKind("Pod")),
		Resource: metav1.GroupVersionResource(corev1alpha1.GroupVersion.WithResource("pods")),
		Name:     pod.Name, Namespace: pod.Namespace, Operation: admissionv1.Create,
		UserInfo: authenticationv1.UserInfo{Username: user},
	}}
}

// A namespace created a moment before its first pod may not be in the manager's cache yet:
// the pod is judged by the namespace the apiserver has, not refused.
func TestPodSecurityReadsANamespaceTheCacheLacks(t *testing.T) {
	scheme := testScheme(t)
	cache := fake.NewClientBuilder().WithScheme(scheme).Build()
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "fresh", Labels: map[string]string{psaapi.EnforceLevelLabel: "privileged"}}}).Build()
	ps, err := newPodSecurity(cache, live, psaapi.LevelBaseline, Exemptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "host", Namespace: "fresh"},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if resp := ps.review(context.Background(), podRequest(pod, "alice"), pod, nil); !resp.Allowed {
		t.Fatalf("a hostNetwork pod in a privileged namespace the cache lacks was refused: %+v", resp.Result)
	}
}

func TestPodSecurityExemptions(t *testing.T) {
	scheme := testScheme(t)
	restricted := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{psaapi.EnforceLevelLabel: "restricted"}}}
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(restricted("infra"), restricted("apps")).Build()
	ps, err := newPodSecurity(c, c, psaapi.LevelBaseline, Exemptions{Namespaces: []string{"infra"}, Usernames: []string{"ops"}, RuntimeClasses: []string{"sandboxed"}})
	if err != nil {
		t.Fatal(err)
	}
	root := func(ns string, runtimeClass *string) *corev1alpha1.Pod {
		return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: ns},
			Spec: corev1.PodSpec{RuntimeClassName: runtimeClass, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	for _, tc := range []struct {
		name, user string
		pod        *corev1alpha1.Pod
		allowed    bool
	}{
		{"a root pod in a restricted namespace", "alice", root("apps", nil), false},
		{"the same in an exempt namespace", "alice", root("infra", nil), true},
		{"the same created by an exempt user", "ops", root("apps", nil), true},
		{"the same of an exempt runtime class", "alice", root("apps", ptr.To("sandboxed")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := ps.review(context.Background(), podRequest(tc.pod, tc.user), tc.pod, nil)
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", resp.Allowed, tc.allowed, resp.Result)
			}
		})
	}
}
