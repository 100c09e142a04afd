package podworker

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestRunAsNonRootRefusesRoot(t *testing.T) {
	for _, tc := range []struct {
		name      string
		runAsUser *int64
		// wantMessage is a part of the waiting message, empty when the container runs.
		wantMessage string
	}{
		{"the image's user, root", nil, `container has runAsNonRoot and image will run as root (pod: "p_ns(uid-1)", container: web)`},
		{"runAsUser 0", ptr.To[int64](0), `container's runAsUser breaks non-root policy (pod: "p_ns(uid-1)", container: web)`},
		{"runAsUser 1000", ptr.To[int64](1000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
			pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: tc.runAsUser}
			r := newRig(t, pod)
			r.step(0)
			r.step(latency)
			state := r.container("web").State
			if tc.wantMessage == "" {
				if state.Running == nil {
					t.Fatalf("state %+v, want running", state)
				}
				return
			}
			if state.Waiting == nil || state.Waiting.Reason != ReasonCreateContainerConfigErr || !strings.Contains(state.Waiting.Message, tc.wantMessage) {
				t.Fatalf("state %+v, want %s saying %q", state, ReasonCreateContainerConfigErr, tc.wantMessage)
			}
		})
	}
}
