package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/downward"
)

// projection computes the files of a configMap, secret, downwardAPI or projected volume;
// secret says whether any of them is a credential (a Secret's, a token), kept off disk.
func (m *Manager) projection(ctx context.Context, pod *corev1alpha1.Pod, v *corev1.Volume) (files map[string]file, secret bool, err error) {
	files = map[string]file{}
	switch {
	case v.ConfigMap != nil:
		err = m.configMapFiles(ctx, pod, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode, defaultMode), files)
	case v.Secret != nil:
		err = m.secretFiles(ctx, pod, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode, defaultMode), files)
		secret = true
	case v.DownwardAPI != nil:
		err = m.downwardFiles(pod, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode, defaultMode), files)
	case v.Projected != nil:
		def := mode(v.Projected.DefaultMode, defaultMode)
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				err = m.configMapFiles(ctx, pod, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def, files)
			case src.Secret != nil:
				err = m.secretFiles(ctx, pod, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def, files)
				secret = true
			case src.DownwardAPI != nil:
				err = m.downwardFiles(pod, src.DownwardAPI.Items, def, files)
			case src.ServiceAccountToken != nil:
				err = m.tokenFiles(ctx, pod, src.ServiceAccountToken, def, files)
				secret = true
			default:
				err = errors.New("this projected source is not supported by kybern's node agent: use configMap, secret, downwardAPI or serviceAccountToken")
			}
			if err != nil {
				break
			}
		}
	}
	return files, secret, err
}

func mode(m *int32, def fs.FileMode) fs.FileMode {
	if m == nil {
		return def
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// keyFiles adds the files of data: every key, or only items, each at its path.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, def fs.FileMode, missingKey func(string) error, files map[string]file) error {
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			files[k] = file{data: data[k], mode: def}
		}
		return nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if err := missingKey(it.Key); err != nil {
				return err
			}
			continue
		}
		files[it.Path] = file{data: d, mode: mode(it.Mode, def)}
	}
	return nil
}

func (m *Manager) configMapFiles(ctx context.Context, pod *corev1alpha1.Pod, name string, items []corev1.KeyToPath, optional *bool, def fs.FileMode, files map[string]file) error {
	ns := pod.Namespace
	cm := &corev1.ConfigMap{}
	if err := m.readConfigMap(ctx, pod, name, cm); err != nil {
		if apierrors.IsNotFound(err) {
			if optional != nil && *optional {
				return nil
			}
			return fmt.Errorf("configmap %q not found", name)
		}
		return fmt.Errorf("reading configmap %s/%s: %w", ns, name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return keyFiles(data, items, def, func(key string) error {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("configmap references non-existent config key: %s", key)
	}, files)
}

func (m *Manager) secretFiles(ctx context.Context, pod *corev1alpha1.Pod, name string, items []corev1.KeyToPath, optional *bool, def fs.FileMode, files map[string]file) error {
	ns := pod.Namespace
	sec := &corev1.Secret{}
	if err := m.readSecret(ctx, pod, name, sec); err != nil {
		if apierrors.IsNotFound(err) {
			if optional != nil && *optional {
				return nil
			}
			return fmt.Errorf("secret %q not found", name)
		}
		return fmt.Errorf("reading secret %s/%s: %w", ns, name, err)
	}
	return keyFiles(sec.Data, items, def, func(key string) error {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("references non-existent secret key: %s", key)
	}, files)
}

// readConfigMap reads a ConfigMap of pod's namespace, through m.Objects' watches when set.
func (m *Manager) readConfigMap(ctx context.Context, pod *corev1alpha1.Pod, name string, cm *corev1.ConfigMap) error {
	if m.Objects != nil {
		return m.Objects.ConfigMap(ctx, pod.UID, pod.Namespace, name, cm)
	}
	return m.Client.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, cm)
}

// readSecret reads a Secret of pod's namespace, through m.Objects' watches when set.
func (m *Manager) readSecret(ctx context.Context, pod *corev1alpha1.Pod, name string, s *corev1.Secret) error {
	if m.Objects != nil {
		return m.Objects.Secret(ctx, pod.UID, pod.Namespace, name, s)
	}
	return m.Client.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, s)
}

// downwardFiles adds one file per item: a pod field, or a container's resource. Labels and
// annotations as a whole are written one key="value" per line, sorted, as upstream does.
func (m *Manager) downwardFiles(pod *corev1alpha1.Pod, items []corev1.DownwardAPIVolumeFile, def fs.FileMode, files map[string]file) error {
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.labels":
			value = formatMap(pod.Labels)
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.annotations":
			value = formatMap(pod.Annotations)
		case it.FieldRef != nil:
			value, err = downward.FieldValue(pod, it.FieldRef.FieldPath, m.HostIP)
		case it.ResourceFieldRef != nil:
			if it.ResourceFieldRef.ContainerName == "" {
				return fmt.Errorf("downwardAPI item %s: resourceFieldRef must name a container", it.Path)
			}
			value, err = downward.ResourceValue(pod, &corev1.Container{}, it.ResourceFieldRef, m.Allocatable)
		default:
			err = fmt.Errorf("downwardAPI item %s names neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		files[it.Path] = file{data: []byte(value), mode: mode(it.Mode, def)}
	}
	return nil
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}
