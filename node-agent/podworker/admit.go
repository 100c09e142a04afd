package podworker

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// ReasonRejected is the status reason of a pod the agent refused to run.
const ReasonRejected = "PodRejected"

// uidPattern is the shape of the UIDs the apiserver assigns; a UID becomes a directory name.
var uidPattern = regexp.MustCompile(`^[0-9a-zA-Z-]{1,64}$`)

// admit checks the parts of a pod's spec that the agent turns into host paths, log files and
// mounts, as upstream's apiserver validation would have: a pod's custom resource reaches the
// node without it, so the agent trusts none of them. The error names the field and the fix.
func admit(pod *corev1alpha1.Pod) error {
	if !uidPattern.MatchString(string(pod.UID)) {
		return fmt.Errorf("metadata.uid %q is not an apiserver-assigned UID", pod.UID)
	}
	if err := unsupported(pod); err != nil {
		return err
	}
	volumes := map[string]bool{}
	for i, v := range pod.Spec.Volumes {
		field := fmt.Sprintf("spec.volumes[%d].name", i)
		if err := label(field, v.Name, volumes); err != nil {
			return err
		}
	}
	containers := map[string]bool{}
	for _, list := range []struct {
		field string
		cs    []corev1.Container
	}{{"spec.initContainers", pod.Spec.InitContainers}, {"spec.containers", pod.Spec.Containers}} {
		for i := range list.cs {
			c := &list.cs[i]
			if err := label(fmt.Sprintf("%s[%d].name", list.field, i), c.Name, containers); err != nil {
				return err
			}
			if sc := c.SecurityContext; sc != nil {
				if err := profiles(fmt.Sprintf("%s[%d].securityContext", list.field, i), sc.SeccompProfile, sc.AppArmorProfile); err != nil {
					return err
				}
			}
			for j, m := range c.VolumeMounts {
				field := fmt.Sprintf("%s[%d].volumeMounts[%d]", list.field, i, j)
				if !volumes[m.Name] {
					return fmt.Errorf("%s.name %q names no volume of spec.volumes: add the volume or fix the name", field, m.Name)
				}
				if err := checkSubPath(field+".subPath", m.SubPath); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// label checks that name is a DNS-1123 label not yet in seen, and adds it.
func label(field, name string, seen map[string]bool) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("%s %q is invalid: %s: rename it", field, name, strings.Join(errs, "; "))
	}
	if seen[name] {
		return fmt.Errorf("%s %q is used twice: names must be unique", field, name)
	}
	seen[name] = true
	return nil
}

// checkSubPath refuses a subPath that could leave its volume by its spelling: absolute, or
// with a ".." element. A symlink inside the volume is dealt with where the path is resolved.
func checkSubPath(field, p string) error {
	if p == "" {
		return nil
	}
	if path.IsAbs(p) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%s %q must be a relative path inside the volume", field, p)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return fmt.Errorf("%s %q must not contain '..'", field, p)
		}
	}
	return nil
}

// unsupported refuses the pod-level security settings the agent cannot honour yet, rather
// than run the pod without them.
func unsupported(pod *corev1alpha1.Pod) error {
	if pod.Spec.HostUsers != nil && !*pod.Spec.HostUsers {
		return errors.New("spec.hostUsers: false (user namespaces) is not supported by kybern's node agent yet: remove it")
	}
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return nil
	}
	if len(sc.Sysctls) > 0 {
		return errors.New("spec.securityContext.sysctls are not supported by kybern's node agent yet: remove them")
	}
	return profiles("spec.securityContext", sc.SeccompProfile, sc.AppArmorProfile)
}

// profiles accepts the seccomp profiles the agent applies (RuntimeDefault, Unconfined) and
// only the Unconfined AppArmor profile.
func profiles(field string, seccomp *corev1.SeccompProfile, apparmor *corev1.AppArmorProfile) error {
	if seccomp != nil && seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeUnconfined {
		return fmt.Errorf("%s.seccompProfile.type %q is not supported by kybern's node agent: use RuntimeDefault or Unconfined", field, seccomp.Type)
	}
	if apparmor != nil && apparmor.Type != corev1.AppArmorProfileTypeUnconfined {
		return fmt.Errorf("%s.appArmorProfile.type %q is not supported by kybern's node agent yet: use Unconfined or remove it", field, apparmor.Type)
	}
	return nil
}
