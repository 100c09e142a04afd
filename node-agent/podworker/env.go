package podworker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/downward"
)

// envInput is what a container's env may draw on besides the pod itself.
type envInput struct {
	// reader reads the ConfigMaps and Secrets the env names, from the apiserver.
	reader client.Reader
	hostIP string
	// allocatable stands in for a limit the container does not set, as upstream's
	// resourceFieldRef does.
	allocatable corev1.ResourceList
	// services are the variables of the kubernetes Service, which the container's own
	// override.
	services []corev1.EnvVar
}

// containerEnv resolves a container's environment as upstream's kubelet does: envFrom
// sources first, each key behind its prefix, then env in order, later names overriding
// earlier ones, then the Service variables the container does not set; values expand
// $(NAME) of the variables before them and of the Service variables. A reference that cannot
// be resolved is an error with upstream's message, shown as CreateContainerConfigError.
// Values, which may be Secret data, never appear in errors.
func containerEnv(ctx context.Context, in envInput, pod *corev1alpha1.Pod, c *corev1.Container) ([]corev1.EnvVar, error) {
	src := &envSources{reader: in.reader, namespace: pod.Namespace}
	var vars []corev1.EnvVar
	set := func(name, value string) {
		if i := slices.IndexFunc(vars, func(v corev1.EnvVar) bool { return v.Name == name }); i >= 0 {
			vars[i].Value = value
			return
		}
		vars = append(vars, corev1.EnvVar{Name: name, Value: value})
	}
	for _, from := range c.EnvFrom {
		data, err := src.envFrom(ctx, from)
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, append(unset(in.services, vars), vars...)))
			continue
		}
		value, ok, err := src.valueFrom(ctx, in, pod, c, e)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, value)
		}
	}
	return append(vars, unset(in.services, vars)...), nil
}

// unset are the variables of from that vars does not name.
func unset(from, vars []corev1.EnvVar) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, v := range from {
		if !slices.ContainsFunc(vars, func(e corev1.EnvVar) bool { return e.Name == v.Name }) {
			out = append(out, v)
		}
	}
	return out
}

// envSources reads each ConfigMap and Secret once per resolution.
type envSources struct {
	reader     client.Reader
	namespace  string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

// configMap returns the named ConfigMap, or nil when it does not exist.
func (s *envSources) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := s.configMaps[name]; ok {
		return cm, nil
	}
	cm := &corev1.ConfigMap{}
	err := s.reader.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		cm = nil
	} else if err != nil {
		return nil, fmt.Errorf("reading configmap %s/%s: %w", s.namespace, name, err)
	}
	if s.configMaps == nil {
		s.configMaps = map[string]*corev1.ConfigMap{}
	}
	s.configMaps[name] = cm
	return cm, nil
}

// secret returns the named Secret, or nil when it does not exist.
func (s *envSources) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if sec, ok := s.secrets[name]; ok {
		return sec, nil
	}
	sec := &corev1.Secret{}
	err := s.reader.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, sec)
	if apierrors.IsNotFound(err) {
		sec = nil
	} else if err != nil {
		return nil, fmt.Errorf("reading secret %s/%s: %w", s.namespace, name, err)
	}
	if s.secrets == nil {
		s.secrets = map[string]*corev1.Secret{}
	}
	s.secrets[name] = sec
	return sec, nil
}

// envFrom returns every key of one envFrom source; an absent optional source has none.
func (s *envSources) envFrom(ctx context.Context, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := s.configMap(ctx, from.ConfigMapRef.Name)
		if err != nil || cm == nil {
			return nil, missing(err, "configmap", from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
		}
		data := maps.Clone(cm.Data)
		if data == nil {
			data = map[string]string{}
		}
		for k, v := range cm.BinaryData {
			data[k] = string(v)
		}
		return data, nil
	case from.SecretRef != nil:
		sec, err := s.secret(ctx, from.SecretRef.Name)
		if err != nil || sec == nil {
			return nil, missing(err, "secret", from.SecretRef.Name, from.SecretRef.Optional)
		}
		data := make(map[string]string, len(sec.Data))
		for k, v := range sec.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

// missing is the error for an absent source: none when it is optional.
func missing(err error, kind, name string, optional *bool) error {
	if err != nil {
		return err
	}
	if optional != nil && *optional {
		return nil
	}
	return fmt.Errorf("%s %q not found", kind, name)
}

// valueFrom resolves one env valueFrom; ok is false for an optional reference to
// something absent, which leaves the variable unset.
// Errors about ConfigMaps and Secrets are upstream's, word for word; the others name the
// variable.
func (s *envSources) valueFrom(ctx context.Context, in envInput, pod *corev1alpha1.Pod, c *corev1.Container, e corev1.EnvVar) (string, bool, error) {
	from := e.ValueFrom
	switch {
	case from.FieldRef != nil:
		v, err := downward.FieldValue(pod, from.FieldRef.FieldPath, in.hostIP)
		if err != nil {
			return "", false, fmt.Errorf("env %s: %w", e.Name, err)
		}
		return v, true, nil
	case from.ResourceFieldRef != nil:
		v, err := downward.ResourceValue(pod, c, from.ResourceFieldRef, in.allocatable)
		if err != nil {
			return "", false, fmt.Errorf("env %s: %w", e.Name, err)
		}
		return v, true, nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := s.configMap(ctx, ref.Name)
		if err != nil || cm == nil {
			return "", false, missing(err, "configmap", ref.Name, ref.Optional)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), true, nil
		}
		if ref.Optional != nil && *ref.Optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		sec, err := s.secret(ctx, ref.Name)
		if err != nil || sec == nil {
			return "", false, missing(err, "secret", ref.Name, ref.Optional)
		}
		if v, ok := sec.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if ref.Optional != nil && *ref.Optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
	}
	return "", false, fmt.Errorf("env %s: valueFrom names no source: set fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef", e.Name)
}

// expandAll is args with $(NAME) in each replaced by the container's variable NAME, as
// upstream expands a container's command and args.
func expandAll(args []string, env []corev1.EnvVar) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, env)
	}
	return out
}

// expand replaces $(NAME) with the value of an earlier variable, as upstream does; $$
// escapes, and references to unknown names stay as written.
func expand(s string, earlier []corev1.EnvVar) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "$("):
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+end]
			value, found := "", false
			for _, e := range earlier {
				if e.Name == name {
					value, found = e.Value, true
				}
			}
			if found {
				b.WriteString(value)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
