package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestWriteAtomicSwapsGenerations(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_000_000, 0)
	changed, err := writeAtomic(dir, map[string]file{"color": {data: []byte("blue"), mode: 0o644}, "sub/size": {data: []byte("L"), mode: 0o400}}, now)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))
	if read(t, filepath.Join(dir, "color")) != "blue" || read(t, filepath.Join(dir, "sub", "size")) != "L" {
		t.Fatal("files not readable through their links")
	}
	if info, _ := os.Stat(filepath.Join(dir, "sub", "size")); info.Mode().Perm() != 0o400 {
		t.Fatalf("mode %v, want 0400", info.Mode().Perm())
	}
	if link, _ := os.Readlink(filepath.Join(dir, "color")); link != filepath.Join(dataLink, "color") {
		t.Fatalf("color links to %q, want through ..data", link)
	}

	changed, err = writeAtomic(dir, map[string]file{"color": {data: []byte("blue"), mode: 0o644}, "sub/size": {data: []byte("L"), mode: 0o400}}, now.Add(time.Second))
	if err != nil || changed {
		t.Fatalf("unchanged files were rewritten: changed=%v err=%v", changed, err)
	}

	changed, err = writeAtomic(dir, map[string]file{"color": {data: []byte("red"), mode: 0o644}}, now.Add(2*time.Second))
	if err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	if read(t, filepath.Join(dir, "color")) != "red" {
		t.Fatal("the update is not visible through the old link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Fatalf("a name the new generation lacks is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Fatalf("the old generation %s was not removed: %v", first, err)
	}
	if _, err := writeAtomic(dir, map[string]file{"../escape": {data: []byte("x"), mode: 0o644}}, now); err == nil {
		t.Fatal("a path leaving the volume was accepted")
	}
}

func TestSetup(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"color": "blue", "size": "L"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}},
	).Build()
	// Root does not exist yet, as on a node whose first pod this is.
	m := &Manager{Root: filepath.Join(t.TempDir(), "pods"), Client: reader, Clock: testingclock.NewFakeClock(time.Unix(1_000_000, 0)), HostIP: "10.0.0.1"}
	hostDir := filepath.Join(t.TempDir(), "data")
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid-1", Labels: map[string]string{"app": "web", "tier": "front"}}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "color", Path: "paint/color", Mode: ptr.To[int32](0o600)}}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr.To[int32](0o400)}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "size", Path: "size"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}}}},
	}
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(m.Root, "uid-1")); err != nil || info.Mode().Perm() != 0o750 {
		t.Fatalf("pod directory: %v %v, want mode 0750", info, err)
	}
	if info, err := os.Stat(paths["scratch"]); err != nil || !info.IsDir() || info.Mode().Perm() != 0o777 {
		t.Fatalf("emptyDir: %v %v", info, err)
	}
	if info, err := os.Stat(hostDir); paths["host"] != hostDir || err != nil || !info.IsDir() {
		t.Fatalf("hostPath DirectoryOrCreate: %s %v", paths["host"], err)
	}
	if got := read(t, filepath.Join(paths["cfg"], "paint", "color")); got != "blue" {
		t.Fatalf("configMap item: %q", got)
	}
	if _, err := os.Stat(filepath.Join(paths["cfg"], "size")); !os.IsNotExist(err) {
		t.Fatal("a key the items do not name was projected")
	}
	if info, _ := os.Stat(filepath.Join(paths["creds"], "password")); info.Mode().Perm() != 0o400 || read(t, filepath.Join(paths["creds"], "password")) != "s3cret" {
		t.Fatalf("secret file: %v", info.Mode())
	}
	if read(t, filepath.Join(paths["info"], "name")) != "web" || read(t, filepath.Join(paths["info"], "labels")) != "app=\"web\"\ntier=\"front\"" {
		t.Fatalf("downwardAPI files: %q", read(t, filepath.Join(paths["info"], "labels")))
	}
	if read(t, filepath.Join(paths["all"], "size")) != "L" || read(t, filepath.Join(paths["all"], "password")) != "s3cret" {
		t.Fatal("projected files")
	}

	cm := &corev1.ConfigMap{}
	if err := reader.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "cfg"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if err := reader.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(paths["cfg"], "paint", "color")); got != "red" {
		t.Fatalf("after the ConfigMap changed: %q", got)
	}

	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.Root, string(pod.UID))); !os.IsNotExist(err) {
		t.Fatalf("the pod's volumes are still there: %v", err)
	}
	if _, err := os.Stat(hostDir); err != nil {
		t.Fatalf("tearing down removed the hostPath: %v", err)
	}
}

func TestSetupErrors(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"color": "blue"}}).Build()
	m := &Manager{Root: t.TempDir(), Client: reader, Clock: testingclock.NewFakeClock(time.Unix(1_000_000, 0))}
	cases := []struct {
		name   string
		source corev1.VolumeSource
		want   string
	}{
		{"a missing ConfigMap", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}},
			`MountVolume.SetUp failed for volume "v" : configmap "late" not found`},
		{"a missing key", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "nope", Path: "nope"}}}}, "configmap references non-existent config key: nope"},
		{"a hostPath Directory that does not exist", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/does/not/exist", Type: ptr.To(corev1.HostPathDirectory)}},
			"hostPath type check failed: /does/not/exist is not a directory"},
		{"a missing Secret", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}, `secret "gone" not found`},
		{"a token of a service account that does not exist", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}, `requesting a token for service account ns/default: serviceaccounts "default" not found`},
		{"a cluster trust bundle", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "ca.crt"}}}}}, "this projected source is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-2"}}
			pod.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: tc.source}}
			_, err := m.Setup(context.Background(), pod)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	optional := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-3"}}
	optional.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Optional: ptr.To(true)}}}}
	if _, err := m.Setup(context.Background(), optional); err != nil {
		t.Fatalf("an optional missing ConfigMap: %v", err)
	}
}

func TestClaims(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	storage := corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	api := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&corev1.PersistentVolumeClaim{}).WithObjects(
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "free", UID: "00000000-0000-4000-8000-000000000001"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, Resources: storage}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "elsewhere", UID: "00000000-0000-4000-8000-000000000002",
			Annotations: map[string]string{SelectedNode: "n2"}}},
	).Build()
	m := &Manager{Root: t.TempDir(), ClaimRoot: t.TempDir(), Client: api, Clock: testingclock.NewFakeClock(time.Unix(1_000_000, 0)), NodeName: "n1"}
	pod := func(uid types.UID, claim string) *corev1alpha1.Pod {
		p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: uid}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		return p
	}
	paths, err := m.Setup(context.Background(), pod("uid-1", "free"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths["data"], "kept"), []byte("yes"), 0o644); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := api.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "free"}, pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Annotations[SelectedNode] != "n1" || pvc.Status.Phase != corev1.ClaimBound || pvc.Status.Capacity.Storage().String() != "1Gi" {
		t.Fatalf("the claim is not bound to n1: %v %+v", pvc.Annotations, pvc.Status)
	}
	if err := m.TearDown("uid-1"); err != nil {
		t.Fatal(err)
	}
	again, err := m.Setup(context.Background(), pod("uid-2", "free"))
	if err != nil || read(t, filepath.Join(again["data"], "kept")) != "yes" {
		t.Fatalf("the claim's data did not outlive its first pod: %v", err)
	}
	if _, err := m.Setup(context.Background(), pod("uid-3", "elsewhere")); err == nil || !strings.Contains(err.Error(), `persistentvolumeclaim "elsewhere" is bound to node "n2"`) {
		t.Fatalf("a claim of another node: %v", err)
	}
	if _, err := m.Setup(context.Background(), pod("uid-4", "nope")); err == nil || !strings.Contains(err.Error(), `persistentvolumeclaim "nope" not found`) {
		t.Fatalf("a missing claim: %v", err)
	}
}
