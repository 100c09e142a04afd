package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestWantedOwners(t *testing.T) {
	const del, keep = appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	cases := []struct {
		name                    string
		whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType
		ordinal                 int
		toSet, toPod            bool
	}{
		{"Retain/Retain in range", keep, keep, 0, false, false},
		{"Retain/Retain condemned", keep, keep, 5, false, false},
		{"whenDeleted Delete in range", del, keep, 0, true, false},
		{"whenDeleted Delete condemned keeps the set", del, keep, 5, true, false},
		{"whenScaled Delete in range", keep, del, 0, false, false},
		{"whenScaled Delete condemned", keep, del, 5, false, true},
		{"both Delete in range", del, del, 1, true, false},
		{"both Delete condemned: the pod, not the set", del, del, 2, false, true},
	}
	for _, tc := range cases {
		set := newSet(2, retention(tc.whenDeleted, tc.whenScaled))
		if toSet, toPod := wantedOwners(set, tc.ordinal); toSet != tc.toSet || toPod != tc.toPod {
			t.Errorf("%s: owners = set %v, pod %v; want %v, %v", tc.name, toSet, toPod, tc.toSet, tc.toPod)
		}
	}
	if toSet, toPod := wantedOwners(newSet(1), 3); toSet || toPod {
		t.Error("without a policy claims are retained")
	}
}

func TestClaimOwners(t *testing.T) {
	set := newSet(1, withTemplate("data"), retention(appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType))
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "other"}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-web-1",
		OwnerReferences: []metav1.OwnerReference{other, {APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: "web", UID: set.UID}}}}
	p := pod(1, upd)
	claims := map[string]*corev1.PersistentVolumeClaim{claim.Name: claim}
	if claimsMatch(set, p, 1, claims) {
		t.Fatal("a condemned pod's claim that refers to the set and not the pod must not match")
	}
	refs, changed := claimOwners(claim, set, p, 1)
	if !changed || len(refs) != 2 || refs[0].UID != "other" || refs[1].UID != p.UID || refs[1].Kind != "Pod" {
		t.Fatalf("refs = %+v, changed %v; want the other owner kept, the set dropped, the pod added", refs, changed)
	}
	if refs[1].Controller != nil {
		t.Fatal("the pod reference must not be a controller reference")
	}
	claim.OwnerReferences = refs
	if !claimsMatch(set, p, 1, claims) {
		t.Fatal("fixed owners must match")
	}
}

func TestStaleClaim(t *testing.T) {
	set := newSet(2, withTemplate("data"))
	fresh := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-web-1"}}
	if got := staleClaim(set, 1, map[string]*corev1.PersistentVolumeClaim{fresh.Name: fresh}); got != "" {
		t.Fatalf("a retained claim is reused, got stale %q", got)
	}
	ownedByOldPod := fresh.DeepCopy()
	ownedByOldPod.OwnerReferences = []metav1.OwnerReference{{APIVersion: podGVK.GroupVersion().String(), Kind: "Pod", Name: "web-1", UID: "old"}}
	if got := staleClaim(set, 1, map[string]*corev1.PersistentVolumeClaim{fresh.Name: ownedByOldPod}); got != "data-web-1" {
		t.Fatalf("a claim of the ordinal's earlier pod is stale, got %q", got)
	}
	beingDeleted := fresh.DeepCopy()
	beingDeleted.DeletionTimestamp = &metav1.Time{Time: now}
	if got := staleClaim(set, 1, map[string]*corev1.PersistentVolumeClaim{fresh.Name: beingDeleted}); got != "data-web-1" {
		t.Fatalf("a claim being deleted is stale, got %q", got)
	}
	web0 := pod(0, upd)
	setStorage(set, web0, 0)
	pl := planSync(observe(set, []*corev1alpha1.Pod{web0}, map[string]*corev1.PersistentVolumeClaim{fresh.Name: beingDeleted}, cur, upd, now))
	if len(pl.stages) != 0 || pl.waiting == "" {
		t.Fatalf("the pod of a stale claim must wait; got %v", describe(set, pl))
	}
}
