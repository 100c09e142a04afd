// Package configsnapshot versions the ConfigMaps and Secrets a pod template references
// with the workload revision that runs it (spec.configPolicy: Snapshot). It finds the
// references, copies each referenced object into an immutable snapshot named after its
// content, rewrites the template to read the snapshots, and hands each snapshot's
// ownership to the revisions whose templates use it, so that the garbage collector
// removes it with the last of them.
package configsnapshot

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Kind is the kind of a referenced configuration object.
type Kind string

const (
	ConfigMap Kind = "ConfigMap"
	Secret    Kind = "Secret"
)

// Ref names one configuration object in the template's namespace.
type Ref struct {
	Kind Kind
	Name string
}

// String is the form the workload controllers index references by.
func (r Ref) String() string { return string(r.Kind) + "/" + r.Name }

// visit calls f with a pointer to every ConfigMap and Secret name in spec: in env,
// envFrom, configMap and secret volumes and projected volumes' sources, of every
// container kind.
func visit(spec *corev1.PodSpec, f func(Kind, *string)) {
	for i := range spec.InitContainers {
		envRefs(spec.InitContainers[i].Env, spec.InitContainers[i].EnvFrom, f)
	}
	for i := range spec.Containers {
		envRefs(spec.Containers[i].Env, spec.Containers[i].EnvFrom, f)
	}
	for i := range spec.EphemeralContainers {
		envRefs(spec.EphemeralContainers[i].Env, spec.EphemeralContainers[i].EnvFrom, f)
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i].VolumeSource
		if v.ConfigMap != nil {
			f(ConfigMap, &v.ConfigMap.Name)
		}
		if v.Secret != nil {
			f(Secret, &v.Secret.SecretName)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				s := &v.Projected.Sources[j]
				if s.ConfigMap != nil {
					f(ConfigMap, &s.ConfigMap.Name)
				}
				if s.Secret != nil {
					f(Secret, &s.Secret.Name)
				}
			}
		}
	}
}

func envRefs(env []corev1.EnvVar, envFrom []corev1.EnvFromSource, f func(Kind, *string)) {
	for i := range env {
		if vf := env[i].ValueFrom; vf != nil {
			if vf.ConfigMapKeyRef != nil {
				f(ConfigMap, &vf.ConfigMapKeyRef.Name)
			}
			if vf.SecretKeyRef != nil {
				f(Secret, &vf.SecretKeyRef.Name)
			}
		}
	}
	for i := range envFrom {
		if ef := &envFrom[i]; ef.ConfigMapRef != nil {
			f(ConfigMap, &ef.ConfigMapRef.Name)
		} else if ef.SecretRef != nil {
			f(Secret, &ef.SecretRef.Name)
		}
	}
}

// References returns the distinct ConfigMaps and Secrets spec references, sorted.
func References(spec *corev1.PodSpec) []Ref {
	var refs []Ref
	visit(spec, func(k Kind, name *string) {
		if *name != "" {
			refs = append(refs, Ref{Kind: k, Name: *name})
		}
	})
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(refs)
}

// Rewrite returns a copy of t whose references to the objects in names read the names
// they map to instead. t is not changed.
func Rewrite(t *corev1.PodTemplateSpec, names map[Ref]string) *corev1.PodTemplateSpec {
	out := t.DeepCopy()
	visit(&out.Spec, func(k Kind, name *string) {
		if to, ok := names[Ref{Kind: k, Name: *name}]; ok {
			*name = to
		}
	})
	return out
}
