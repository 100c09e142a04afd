package configsnapshot

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

func template(configMap, secret string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}}},
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
	}}
}

func TestSnapshotter(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Labels: map[string]string{"argocd.argoproj.io/instance": "x"}},
			Data: map[string]string{"k": "v"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"t": []byte("1")}},
	).Build()
	s := &Snapshotter{Metadata: c, Live: c, Writer: c}
	workload := metav1.OwnerReference{APIVersion: "apps.kybern.io/v1alpha1", Kind: "Deployment", Name: "web", UID: "d-uid"}

	got, snaps, err := s.Template(ctx, "ns", template("app", "app"), workload)
	if err != nil {
		t.Fatal(err)
	}
	cmName := got.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name
	secretName := got.Spec.Volumes[0].Secret.SecretName
	if !strings.HasPrefix(cmName, "app-") || len(cmName) != len("app-")+hashLen || !strings.HasPrefix(secretName, "app-") {
		t.Fatalf("snapshot names %q and %q", cmName, secretName)
	}
	if len(snaps) != 2 {
		t.Fatalf("snaps = %v", snaps)
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: cmName}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["k"] != "v" || cm.Immutable == nil || !*cm.Immutable || cm.Annotations[appsv1alpha1.SnapshotOfAnnotation] != "app" ||
		len(cm.Labels) != 0 || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != "d-uid" {
		t.Fatalf("the ConfigMap snapshot: %+v", cm)
	}
	again, _, err := s.Template(ctx, "ns", template("app", "app"), workload)
	if err != nil || again.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name != cmName {
		t.Fatalf("a second reconcile: %v, %v", again, err)
	}

	rs := metav1.OwnerReference{APIVersion: "apps.kybern.io/v1alpha1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-uid"}
	if err := s.Own(ctx, "ns", snaps, rs, workload.UID); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: cmName}, cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != "rs-uid" {
		t.Fatalf("after Own, the owners are %+v", cm.OwnerReferences)
	}

	edited := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "app"}, edited); err != nil {
		t.Fatal(err)
	}
	edited.Data["k"] = "w"
	if err := c.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	next, _, err := s.Template(ctx, "ns", template("app", "app"), workload)
	if err != nil {
		t.Fatal(err)
	}
	if n := next.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name; n == cmName {
		t.Errorf("an edited ConfigMap kept its snapshot %s", n)
	}
	if n := next.Spec.Volumes[0].Secret.SecretName; n != secretName {
		t.Errorf("an unchanged Secret got snapshot %s, not %s", n, secretName)
	}

	pinned, snaps, err := s.Template(ctx, "ns", template(cmName, "missing"), workload)
	if err != nil {
		t.Fatal(err)
	}
	if pinned.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name != cmName || pinned.Spec.Volumes[0].Secret.SecretName != "missing" || len(snaps) != 0 {
		t.Errorf("a reference to a snapshot or to a missing Secret was rewritten: %+v, %v", pinned.Spec, snaps)
	}
}

func TestSnapshotterRefusesAnObjectInTheSnapshotsPlace(t *testing.T) {
	ctx := context.Background()
	src := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Data: map[string]string{"k": "v"}}
	squatter := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: snapshotName("app", contentHash(src))}}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(src, squatter).Build()
	s := &Snapshotter{Metadata: c, Live: c, Writer: c}
	_, _, err := s.Template(ctx, "ns", template("app", ""), metav1.OwnerReference{Kind: "Deployment", Name: "web", UID: "d"})
	if err == nil || !strings.Contains(err.Error(), squatter.Name+" exists and is not a snapshot of app: rename or delete it") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	src := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Data: map[string]string{"k": "v"}}
	squatter := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: snapshotName("app", contentHash(src))}}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(src, squatter).Build()
	s := &Snapshotter{Metadata: c, Live: c, Writer: c}
	rec := record.NewFakeRecorder(1)
	w := Workload{Object: &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}},
		GVK: appsv1alpha1.GroupVersion.WithKind("Deployment"), Template: template("app", "")}

	got, snaps, err := s.Resolve(ctx, rec, w)
	if err != nil || got != w.Template || snaps != nil {
		t.Fatalf("under Live: %v, %v, %v", got, snaps, err)
	}
	w.Policy = appsv1alpha1.ConfigSnapshot
	if _, _, err := s.Resolve(ctx, rec, w); err == nil {
		t.Fatal("a snapshot's name taken by another ConfigMap was accepted")
	}
	if e := <-rec.Events; !strings.HasPrefix(e, "Warning "+SnapshotFailedReason+" ") || !strings.Contains(e, squatter.Name) {
		t.Errorf("event %q", e)
	}
}
