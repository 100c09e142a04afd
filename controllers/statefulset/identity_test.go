package statefulset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestOrdinalOf(t *testing.T) {
	cases := []struct {
		pod  string
		want int
		ok   bool
	}{
		{"web-0", 0, true},
		{"web-12", 12, true},
		{"web-01", -1, false},
		{"web-+1", -1, false},
		{"web--1", -1, false},
		{"web-", -1, false},
		{"web", -1, false},
		{"webs-1", -1, false},
		{"web-x-1", -1, false},
	}
	for _, tc := range cases {
		if got, ok := ordinalOf("web", tc.pod); got != tc.want || ok != tc.ok {
			t.Errorf("ordinalOf(web, %s) = %d, %v; want %d, %v", tc.pod, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewPodIdentityAndStorage(t *testing.T) {
	set := newSet(3, withTemplate("data"))
	set.Spec.Template.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	p := newPod(set, &set.Spec.Template, upd, 2)
	if p.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "svc" {
		t.Fatalf("name %s, hostname %s, subdomain %s; want web-2, web-2, svc", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	for k, v := range map[string]string{PodNameLabel: "web-2", PodIndexLabel: "2", RevisionHashLabel: upd, "app": "web"} {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if set.Spec.Template.Labels[PodNameLabel] != "" {
		t.Error("newPod changed the set's template labels")
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].PersistentVolumeClaim == nil ||
		p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-2" || p.Spec.Volumes[1].Name != "scratch" {
		t.Fatalf("volumes = %+v; want data from claim data-web-2, then scratch", p.Spec.Volumes)
	}
	if !identityMatches(set, p, 2) || !storageMatches(set, p, 2) {
		t.Fatal("a new pod must match its own identity and storage")
	}
	if identityMatches(set, p, 1) || storageMatches(set, p, 1) {
		t.Fatal("a pod must not match another ordinal's identity or storage")
	}
}

func TestIdentityAndStorageRepair(t *testing.T) {
	set := newSet(3, withTemplate("data"))
	p := newPod(set, &set.Spec.Template, upd, 1)
	delete(p.Labels, PodIndexLabel)
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if identityMatches(set, p, 1) || storageMatches(set, p, 1) {
		t.Fatal("a pod without its index label and claim volume must not match")
	}
	setIdentity(p, 1)
	setStorage(set, p, 1)
	if !identityMatches(set, p, 1) || !storageMatches(set, p, 1) {
		t.Fatalf("after repair: labels %v, volumes %+v", p.Labels, p.Spec.Volumes)
	}
}

func TestNewClaims(t *testing.T) {
	set := newSet(2, withTemplate("data"), withTemplate("logs"))
	set.Spec.VolumeClaimTemplates[0].Labels = map[string]string{"tier": "db"}
	claims := newClaims(set, 4)
	if len(claims) != 2 || claims[0].Name != "data-web-4" || claims[1].Name != "logs-web-4" {
		t.Fatalf("claims = %v, %v; want data-web-4, logs-web-4", claims[0].Name, claims[1].Name)
	}
	if claims[0].Labels["tier"] != "db" || claims[0].Labels["app"] != "web" || claims[1].Labels["app"] != "web" {
		t.Fatalf("labels = %v, %v; want the template's and the selector's", claims[0].Labels, claims[1].Labels)
	}
	if set.Spec.VolumeClaimTemplates[0].Labels["app"] != "" {
		t.Fatal("newClaims changed the set's template labels")
	}
}
