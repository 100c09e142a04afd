package admission

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestMountToken(t *testing.T) {
	own := corev1.VolumeMount{Name: "mine", MountPath: TokenMountPath}
	cases := []struct {
		name string
		spec corev1.PodSpec
		// wantMounts is, per init then app container, the volume mounted at TokenMountPath.
		wantMounts []string
		wantVolume string
	}{
		{"every container gets the volume", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			[]string{"kube-api-access-new", "kube-api-access-new", "kube-api-access-new"}, "kube-api-access-new"},
		{"a container mounting its own volume there keeps it", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{own}}, {Name: "b"}}},
			[]string{"mine", "kube-api-access-new"}, "kube-api-access-new"},
		{"no container needs it: no volume", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{own}}}},
			[]string{"mine"}, ""},
		{"a volume of the prefix is reused", corev1.PodSpec{Volumes: []corev1.Volume{{Name: "kube-api-access-old"}}, Containers: []corev1.Container{{Name: "a"}}},
			[]string{"kube-api-access-old"}, "kube-api-access-old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1alpha1.Pod{Spec: tc.spec}
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			spec := applyPatch(t, raw, mountToken(&pod.Spec, "kube-api-access-new")).Spec
			var got []string
			for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
				for _, m := range c.VolumeMounts {
					if m.MountPath == TokenMountPath {
						got = append(got, m.Name)
						if m.Name != "mine" && !m.ReadOnly {
							t.Errorf("container %s mounts the token volume writable", c.Name)
						}
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.wantMounts, ",") {
				t.Errorf("mounts = %v, want %v", got, tc.wantMounts)
			}
			var volume string
			for _, v := range spec.Volumes {
				if strings.HasPrefix(v.Name, TokenVolumePrefix) {
					volume = v.Name
				}
			}
			if volume != tc.wantVolume {
				t.Errorf("volume = %q, want %q", volume, tc.wantVolume)
			}
		})
	}
}

func TestServiceAccountMutation(t *testing.T) {
	scheme := testScheme(t)
	accounts := []runtime.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "default"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false)},
	}
	cases := []struct {
		name        string
		account     string
		podOptOut   *bool
		wantAllowed bool
		wantAccount string
		wantVolume  bool
		wantMessage string
	}{
		{"a pod naming no account runs as default, with the volume", "", nil, true, "default", true, ""},
		{"an account that turns automount off gets no volume", "quiet", nil, true, "quiet", false, ""},
		{"the pod's own setting wins over its account's", "quiet", ptr.To(true), true, "quiet", true, ""},
		{"a pod may turn it off", "", ptr.To(false), true, "default", false, ""},
		{"a missing account is refused, with the fix", "ghost", nil, false, "", false, `serviceaccount "ghost" not found: create it, or set spec.serviceAccountName`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache := fake.NewClientBuilder().WithScheme(scheme).Build()
			live := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(accounts...).Build()
			s := &serviceAccounts{cache: cache, live: live, decoder: admission.NewDecoder(scheme)}
			pod := &corev1alpha1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps"},
				Spec: corev1.PodSpec{ServiceAccountName: tc.account, AutomountServiceAccountToken: tc.podOptOut,
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			resp := s.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Namespace: "apps", Name: "p", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}})
			if resp.Allowed != tc.wantAllowed {
				t.Fatalf("allowed = %v, want %v: %+v", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			if !tc.wantAllowed {
				if !strings.Contains(resp.Result.Message, tc.wantMessage) {
					t.Fatalf("message %q lacks %q", resp.Result.Message, tc.wantMessage)
				}
				return
			}
			got := applyPatch(t, raw, resp.Patches)
			if got.Spec.ServiceAccountName != tc.wantAccount {
				t.Errorf("serviceAccountName = %q, want %q", got.Spec.ServiceAccountName, tc.wantAccount)
			}
			hasVolume := len(got.Spec.Volumes) == 1 && strings.HasPrefix(got.Spec.Volumes[0].Name, TokenVolumePrefix) &&
				len(got.Spec.Volumes[0].Projected.Sources) == 3 && len(got.Spec.Containers[0].VolumeMounts) == 1
			if hasVolume != tc.wantVolume {
				t.Errorf("token volume mounted = %v, want %v: %+v", hasVolume, tc.wantVolume, got.Spec)
			}
		})
	}
}

// applyPatch applies the webhook's JSON patch to raw as the apiserver does.
func applyPatch(t *testing.T, raw []byte, patches []jsonpatch.JsonPatchOperation) *corev1alpha1.Pod {
	t.Helper()
	ops, err := json.Marshal(patches)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatchapply.DecodePatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1alpha1.Pod{}
	if err := json.Unmarshal(out, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// The patch adds the account and the volume alone: a pod without containers stays
// without them, for the apiserver's schema to refuse with its own message.
func TestServiceAccountPatchTouchesNothingElse(t *testing.T) {
	scheme := testScheme(t)
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "default"}}).Build()
	s := &serviceAccounts{cache: live, live: live, decoder: admission.NewDecoder(scheme)}
	for _, raw := range []string{
		`{"apiVersion":"core.kybern.io/v1alpha1","kind":"Pod","metadata":{"name":"p","namespace":"apps"},"spec":{}}`,
		`{"apiVersion":"core.kybern.io/v1alpha1","kind":"Pod","metadata":{"name":"p","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`,
	} {
		resp := s.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Namespace: "apps", Name: "p", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: []byte(raw)}}})
		if !resp.Allowed {
			t.Fatalf("%s: refused: %+v", raw, resp.Result)
		}
		for _, op := range resp.Patches {
			if op.Operation != "add" || (op.Path != "/spec/serviceAccountName" && op.Path != "/spec/volumes" && op.Path != "/spec/containers/0/volumeMounts") {
				t.Errorf("%s: patch %s %s changes what the mutation does not own", raw, op.Operation, op.Path)
			}
		}
	}
}
