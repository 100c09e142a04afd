package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// TestSharedClaims: a bound claim of a shared-directory class lives under SharedClaimRoot,
// is selected for no node, and serves each node that mounts the shared filesystem; a node
// without one, a claim not bound yet, or a claim whose UID is no UUID, is refused.
func TestSharedClaims(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{corev1.AddToScheme, storagev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(name string, uid types.UID, class string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}}
	}
	bound := func(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
		pvc.Status.Phase = corev1.ClaimBound
		return pvc
	}
	api := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&corev1.PersistentVolumeClaim{}).WithObjects(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "nfs"}, Provisioner: corev1alpha1.SharedDirectoryProvisioner},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "example.com/local"},
		bound(claim("shared", "00000000-0000-4000-8000-00000000000a", "nfs")),
		claim("unbound", "00000000-0000-4000-8000-00000000000d", "nfs"),
		claim("local", "00000000-0000-4000-8000-00000000000b", "local"),
		claim("unknown-class", "00000000-0000-4000-8000-00000000000c", "gone"),
		claim("bad-uid", "../../etc", "nfs"),
	).Build()
	shared := t.TempDir()
	node := func(name, sharedRoot string) *Manager {
		return &Manager{Root: t.TempDir(), ClaimRoot: t.TempDir(), SharedClaimRoot: sharedRoot, Client: api, NodeName: name}
	}
	a, b, isolated := node("a", shared), node("b", shared), node("c", "")
	pod := func(uid types.UID, claim string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: uid}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		return p
	}
	ctx := context.Background()

	onA, err := a.Setup(ctx, pod("pod-1", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(shared, "00000000-0000-4000-8000-00000000000a"); onA["data"] != want {
		t.Fatalf("the shared claim is at %s, want %s", onA["data"], want)
	}
	if err := os.WriteFile(filepath.Join(onA["data"], "written-on"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	onB, err := b.Setup(ctx, pod("pod-2", "shared"))
	if err != nil || read(t, filepath.Join(onB["data"], "written-on")) != "a" {
		t.Fatalf("node b does not see the data node a wrote: %v", err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := api.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "shared"}, pvc); err != nil {
		t.Fatal(err)
	}
	if _, selected := pvc.Annotations[SelectedNode]; selected || pvc.Status.Phase != corev1.ClaimBound {
		t.Fatalf("a shared claim is Bound and selected for no node: %v %+v", pvc.Annotations, pvc.Status)
	}

	for _, name := range []string{"local", "unknown-class"} {
		paths, err := a.Setup(ctx, pod(types.UID("pod-"+name), name))
		if err != nil || !strings.HasPrefix(paths["data"], a.ClaimRoot) {
			t.Fatalf("claim %s: want a directory of node a, got %v, %v", name, paths, err)
		}
	}

	_, err = isolated.Setup(ctx, pod("pod-3", "shared"))
	if err == nil || !strings.Contains(err.Error(), `node "c" has no shared filesystem`) || !strings.Contains(err.Error(), "--shared-claim-dir") {
		t.Fatalf("a node without --shared-claim-dir: %v", err)
	}
	_, err = a.Setup(ctx, pod("pod-5", "unbound"))
	if err == nil || !strings.Contains(err.Error(), `persistentvolumeclaim "unbound" is not bound yet`) {
		t.Fatalf("a shared claim the manager has not bound: %v", err)
	}
	_, err = a.Setup(ctx, pod("pod-4", "bad-uid"))
	if err == nil || !strings.Contains(err.Error(), "not a UUID") {
		t.Fatalf("a claim whose uid is a path: %v", err)
	}
}
