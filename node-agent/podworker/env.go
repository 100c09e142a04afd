package podworker

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// containerEnv resolves a container's env: literal values and the pod fields upstream's
// downward API offers through fieldRef. A reference that cannot be resolved is an error
// naming the variable, which the pod's status shows.
func containerEnv(pod *corev1alpha1.Pod, c *corev1.Container, hostIP string) ([]corev1.EnvVar, error) {
	out := make([]corev1.EnvVar, 0, len(c.Env))
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out = append(out, corev1.EnvVar{Name: e.Name, Value: expand(e.Value, out)})
			continue
		}
		if e.ValueFrom.FieldRef == nil {
			return nil, fmt.Errorf("env %s: only value and valueFrom.fieldRef are supported so far", e.Name)
		}
		v, err := fieldValue(pod, e.ValueFrom.FieldRef.FieldPath, hostIP)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		out = append(out, corev1.EnvVar{Name: e.Name, Value: v})
	}
	return out, nil
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

// fieldValue reads one downward API field of pod.
func fieldValue(pod *corev1alpha1.Pod, path, hostIP string) (string, error) {
	accessor, err := meta.Accessor(pod)
	if err != nil {
		return "", err
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return accessor.GetLabels()[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return accessor.GetAnnotations()[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return hostIP, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	}
	return "", fmt.Errorf("fieldRef %q is not a supported field", path)
}

// subscript parses `prefix['key']` and returns key.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}
