package nodeauthorizer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestGrants(t *testing.T) {
	pod := func(ns string, spec corev1.PodSpec) *corev1alpha1.Pod {
		return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"}, Spec: spec}
	}
	web := pod("shop", corev1.PodSpec{
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
		Containers: []corev1.Container{{Name: "c",
			Env: []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		}},
		Volumes: []corev1.Volume{
			{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "bundle"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
			}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "www-web-0"}}},
		},
	})
	seeded := pod("shop", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i",
		EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "seed"}}}}}},
		Containers: []corev1.Container{{Name: "c"}}})
	plain := pod("plain", corev1.PodSpec{ServiceAccountName: "unused", Containers: []corev1.Container{{Name: "c"}}})
	token := func(account string) *corev1alpha1.Pod {
		return pod("shop", corev1.PodSpec{ServiceAccountName: account, Containers: []corev1.Container{{Name: "c"}},
			Volumes: []corev1.Volume{{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}}})
	}

	got := grants([]*corev1alpha1.Pod{web, seeded, plain, token("reader"), token("")})
	want := map[string]grant{
		"shop": {secrets: []string{"db", "registry", "seed", "tls"}, configMaps: []string{"bundle", "settings"}, claims: []string{"www-web-0"},
			serviceAccounts: []string{"default", "reader"}},
		"plain": {secrets: []string{}, configMaps: []string{}, claims: []string{}, serviceAccounts: []string{}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(grant{})); diff != "" {
		t.Fatalf("grants (-want +got):\n%s", diff)
	}
	if rules := got["plain"].rules(); len(rules) != 0 {
		t.Errorf("a namespace whose pods use nothing got rules %v: a rule without names grants every object", rules)
	}
	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db", "registry", "seed", "tls"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"bundle", "settings"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, ResourceNames: []string{"www-web-0"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims/status"}, ResourceNames: []string{"www-web-0"}, Verbs: []string{"patch"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{"default", "reader"}, Verbs: []string{"create"}},
	}
	if diff := cmp.Diff(wantRules, got["shop"].rules()); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}
