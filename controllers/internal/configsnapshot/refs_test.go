package configsnapshot

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReferencesAndRewrite(t *testing.T) {
	cmKey := func(name string) *corev1.ConfigMapKeySelector {
		return &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}
	}
	secretKey := func(name string) *corev1.SecretKeySelector {
		return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}
	}
	container := corev1.Container{Name: "c",
		Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: cmKey("env-cm")}},
			{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: secretKey("env-secret")}},
			{Name: "C", Value: "literal"}},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-cm"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-secret"}}}},
	}
	init := corev1.Container{Name: "init", Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: cmKey("init-cm")}}}}
	t1 := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{init},
		Containers:     []corev1.Container{container},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug",
			Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: cmKey("debug-cm")}}}}}},
		Volumes: []corev1.Volume{
			{Name: "v1", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}},
			{Name: "v2", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
			{Name: "v3", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			{Name: "v4", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}}
	var got []string
	for _, r := range References(&t1.Spec) {
		got = append(got, r.String())
	}
	want := "ConfigMap/debug-cm ConfigMap/env-cm ConfigMap/from-cm ConfigMap/init-cm ConfigMap/vol-cm " +
		"Secret/env-secret Secret/from-secret Secret/proj-secret Secret/vol-secret"
	if strings.Join(got, " ") != want {
		t.Fatalf("References:\n got %s\nwant %s", strings.Join(got, " "), want)
	}

	out := Rewrite(t1, map[Ref]string{{ConfigMap, "vol-cm"}: "vol-cm-1", {Secret, "env-secret"}: "env-secret-1", {Secret, "vol-cm"}: "wrong-kind"})
	spec := out.Spec
	if spec.Volumes[0].ConfigMap.Name != "vol-cm-1" || spec.Volumes[2].Projected.Sources[0].ConfigMap.Name != "vol-cm-1" {
		t.Errorf("the ConfigMap's volume and projection were not both rewritten: %+v", spec.Volumes)
	}
	if spec.Containers[0].Env[1].ValueFrom.SecretKeyRef.Name != "env-secret-1" {
		t.Errorf("the Secret's env reference was not rewritten: %+v", spec.Containers[0].Env[1])
	}
	if spec.Containers[0].EnvFrom[0].ConfigMapRef.Name != "from-cm" || spec.InitContainers[0].Env[0].ValueFrom.ConfigMapKeyRef.Name != "init-cm" {
		t.Error("a reference outside the map was rewritten")
	}
	if t1.Spec.Volumes[0].ConfigMap.Name != "vol-cm" {
		t.Error("Rewrite changed its input")
	}
	if References(&corev1.PodSpec{}) != nil {
		t.Error("a template without references has some")
	}
}

func TestSnapshotName(t *testing.T) {
	if got := snapshotName("app", "0123456789"); got != "app-0123456789" {
		t.Errorf("snapshotName = %q", got)
	}
	long := strings.Repeat("a", 240) + ".b-" + strings.Repeat("c", 20)
	got := snapshotName(long, "0123456789")
	if len(got) > maxNameLen || !strings.HasSuffix(got, "-0123456789") {
		t.Errorf("a long name gives %q (%d chars)", got, len(got))
	}
	cut := snapshotName(strings.Repeat("a", 241)+".-"+strings.Repeat("c", 20), "0123456789")
	if strings.Contains(cut, ".-") || strings.Contains(cut, "--") {
		t.Errorf("a name cut after a separator gives %q", cut)
	}
}
