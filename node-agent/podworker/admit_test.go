package podworker

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestAdmit(t *testing.T) {
	vol := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	for _, tc := range []struct {
		name   string
		change func(p *corev1alpha1.Pod)
		// wantErr is a substring of the rejection, empty when the pod is admitted.
		wantErr string
	}{
		{"a valid pod", func(p *corev1alpha1.Pod) {
			p.Spec.Volumes = []corev1.Volume{vol("data")}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "a/b"}}
		}, ""},
		{"a volume name climbing out of the pod directory", func(p *corev1alpha1.Pod) {
			p.Spec.Volumes = []corev1.Volume{vol("../../../../victim")}
		}, `spec.volumes[0].name "../../../../victim" is invalid`},
		{"a volume name with a slash", func(p *corev1alpha1.Pod) { p.Spec.Volumes = []corev1.Volume{vol("a/b")} }, "spec.volumes[0].name"},
		{"two volumes of one name", func(p *corev1alpha1.Pod) { p.Spec.Volumes = []corev1.Volume{vol("a"), vol("a")} }, "used twice"},
		{"a container name that is a path", func(p *corev1alpha1.Pod) { p.Spec.Containers[0].Name = "../../etc" }, "spec.containers[0].name"},
		{"an empty container name", func(p *corev1alpha1.Pod) { p.Spec.Containers[0].Name = "" }, "spec.containers[0].name"},
		{"an init container sharing a main container's name", func(p *corev1alpha1.Pod) {
			p.Spec.InitContainers = []corev1.Container{ctr("web")}
		}, "spec.containers[0].name \"web\" is used twice"},
		{"a mount of no volume", func(p *corev1alpha1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/d"}}
		}, "names no volume"},
		{"an absolute subPath", func(p *corev1alpha1.Pod) {
			p.Spec.Volumes = []corev1.Volume{vol("data")}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "/etc"}}
		}, "must be a relative path"},
		{"a subPath through ..", func(p *corev1alpha1.Pod) {
			p.Spec.Volumes = []corev1.Volume{vol("data")}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "a/../../x"}}
		}, "must not contain '..'"},
		{"a Localhost seccomp profile", func(p *corev1alpha1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}, "spec.securityContext.seccompProfile.type"},
		{"an AppArmor profile on a container", func(p *corev1alpha1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}}
		}, "spec.containers[0].securityContext.appArmorProfile.type"},
		{"sysctls", func(p *corev1alpha1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}}}
		}, "sysctls"},
		{"a user namespace", func(p *corev1alpha1.Pod) { p.Spec.HostUsers = ptr.To(false) }, "spec.hostUsers"},
		{"RuntimeDefault seccomp", func(p *corev1alpha1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		}, ""},
		{"a UID that is a path", func(p *corev1alpha1.Pod) { p.UID = "../x" }, "metadata.uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd"))
			tc.change(p)
			err := admit(p)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected a valid pod: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestARejectedPodFailsWithoutRunning(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
	pod.Spec.Volumes = []corev1.Volume{{Name: "../../../../victim", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	r := newRig(t, pod)
	r.step(0)
	r.step(latency)
	r.status.mu.Lock()
	st := r.status.last
	r.status.mu.Unlock()
	if r.w.State() != StateTerminated || st.Phase != corev1.PodFailed || st.Reason != ReasonRejected ||
		!strings.Contains(st.Message, `spec.volumes[0].name "../../../../victim"`) {
		t.Fatalf("state %s, status %+v: want a terminated worker and a Failed pod saying why", r.w.State(), st)
	}
	containers, err := r.rt.Containers(r.ctx)
	if err != nil || len(containers) != 0 {
		t.Fatalf("containers of a rejected pod: %v, %v", containers, err)
	}
}
