package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/podutil"
)

func deploy(replicas int32, surge, unavailable *intstr.IntOrString) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{}
	d.Spec.Replicas = ptr.To(replicas)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}}
	return d
}

func pct(s string) *intstr.IntOrString { return ptr.To(intstr.FromString(s)) }
func num(n int32) *intstr.IntOrString  { return ptr.To(intstr.FromInt32(n)) }

func TestSurgeAndUnavailable(t *testing.T) {
	cases := []struct {
		name                       string
		d                          *appsv1alpha1.Deployment
		wantSurge, wantUnavailable int32
	}{
		{"replicas=10, 25%/25%: surge rounds up to 3, unavailable down to 2", deploy(10, pct("25%"), pct("25%")), 3, 2},
		{"replicas=1, 25%/25%: surge 1, unavailable 0", deploy(1, pct("25%"), pct("25%")), 1, 0},
		{"replicas=3, 0/0: unavailable becomes 1 so the rollout can move", deploy(3, num(0), num(0)), 0, 1},
		{"replicas=4, surge 0, unavailable 50%", deploy(4, num(0), pct("50%")), 0, 2},
		{"replicas=10, no rollingUpdate: 25%/25%", deploy(10, nil, nil), 3, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, u := surgeAndUnavailable(tc.d)
			if s != tc.wantSurge || u != tc.wantUnavailable {
				t.Fatalf("surge, unavailable = %d, %d; want %d, %d", s, u, tc.wantSurge, tc.wantUnavailable)
			}
		})
	}
	recreate := deploy(5, nil, nil)
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if maxSurge(recreate) != 0 || maxUnavailable(recreate) != 0 {
		t.Fatal("Recreate has neither surge nor unavailable")
	}
	if got := maxUnavailable(deploy(2, num(0), num(5))); got != 2 {
		t.Fatalf("maxUnavailable is capped at replicas; got %d", got)
	}
}

func rs(name string, spec, statusReplicas, available int32) *appsv1alpha1.ReplicaSet {
	r := &appsv1alpha1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
	r.Spec.Replicas = ptr.To(spec)
	r.Status.Replicas = statusReplicas
	r.Status.AvailableReplicas = available
	return r
}

func TestNewRSReplicas(t *testing.T) {
	cases := []struct {
		name string
		d    *appsv1alpha1.Deployment
		old  *appsv1alpha1.ReplicaSet
		new  *appsv1alpha1.ReplicaSet
		want int32
	}{
		{"10 replicas, surge 3: old 10, new 0 → new grows to 3", deploy(10, num(3), num(2)), rs("old", 10, 10, 10), rs("new", 0, 0, 0), 3},
		{"10 replicas, surge 3: old 8, new 3 → 13 − 11 = 2 more, new 5", deploy(10, num(3), num(2)), rs("old", 8, 8, 8), rs("new", 3, 3, 0), 5},
		{"old scaled to 8 but still has 10 pods: no room yet", deploy(10, num(3), num(2)), rs("old", 8, 10, 10), rs("new", 3, 3, 0), 3},
		{"never past replicas: old 0, new 9 → 10", deploy(10, num(3), num(2)), rs("old", 0, 0, 0), rs("new", 9, 9, 9), 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := newRSReplicas(tc.d, []*appsv1alpha1.ReplicaSet{tc.old, tc.new}, tc.new)
			if got != tc.want {
				t.Fatalf("newRSReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestProportion(t *testing.T) {
	// A rollout of 10 with surge 3 (13 allowed) has old 8 and new 5 when scaled to 20
	// (23 allowed): +10 to give out.
	d := deploy(20, num(3), num(2))
	old, nw := rs("old", 8, 8, 8), rs("new", 5, 5, 0)
	for _, r := range []*appsv1alpha1.ReplicaSet{old, nw} {
		r.Annotations[MaxReplicasAnnotation] = "13"
	}
	got := proportion(old, d, 10, 0)
	if got != 6 {
		t.Fatalf("old gains %d, want round(8 × 23 / 13) − 8 = 6", got)
	}
	if got := proportion(nw, d, 10, 6); got != 4 {
		t.Fatalf("new gains %d, want min(round(5 × 23 / 13) − 5, 10 − 6) = 4", got)
	}
	// Scaling down 20 → 10 (13 allowed) from old 14 / new 9 (23): −10 to take.
	d = deploy(10, num(3), num(2))
	old, nw = rs("old", 14, 14, 14), rs("new", 9, 9, 0)
	for _, r := range []*appsv1alpha1.ReplicaSet{old, nw} {
		r.Annotations[MaxReplicasAnnotation] = "23"
	}
	if got := proportion(old, d, -10, 0); got != -6 {
		t.Fatalf("old loses %d, want round(14 × 13 / 23) − 14 = −6", got)
	}
	if got := proportion(rs("empty", 0, 0, 0), d, -10, 0); got != 0 {
		t.Fatalf("an empty ReplicaSet takes no share; got %d", got)
	}
}

func TestEqualIgnoringHash(t *testing.T) {
	a := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox:1"}}}}
	b := *a.DeepCopy()
	b.Spec.Containers[0].Image = "busybox:2"
	withHash := *a.DeepCopy()
	withHash.Labels[PodTemplateHashLabel] = podutil.TemplateHash(&a, nil)
	if !equalIgnoringHash(&a, &withHash) || equalIgnoringHash(&a, &b) {
		t.Fatal("equalIgnoringHash must ignore only the hash label")
	}
}
