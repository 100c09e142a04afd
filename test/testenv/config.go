package testenv

import corev1 "k8s.io/api/core/v1"

// SnapshotOfApp matches the name of a configuration snapshot of the objects named app.
const SnapshotOfApp = `^app-[0-9a-f]{10}$`

// WithConfig makes t's first container read ConfigMap name through envFrom, and t's pods
// read Secret name through a volume.
func WithConfig(t *corev1.PodTemplateSpec, name string) {
	t.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}
	t.Spec.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}}
}

// ConfigOf is the ConfigMap and the Secret that spec, as WithConfig made it, reads.
func ConfigOf(spec corev1.PodSpec) (configMap, secret string) {
	return spec.Containers[0].EnvFrom[0].ConfigMapRef.Name, spec.Volumes[0].Secret.SecretName
}
