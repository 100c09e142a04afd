// Command crdfix completes the CRD schemas controller-gen writes from upstream Go types,
// where upstream markers say less than a structural schema needs. `make manifests` runs it
// on config/crd/bases right after controller-gen; it rewrites each file in place and is
// idempotent.
//
// The fixes:
//   - A key of an x-kubernetes-list-type=map list must be required or have a default, or
//     the apiserver refuses the CRD. Upstream marks some keys +optional (the type of every
//     workload condition, for one) because its own validation requires them in code; crdfix
//     marks such keys required, which is what that code enforces.
//   - Label values get upstream's length bound, so CEL rules over labels fit the cost budget.
//   - Upstream's defaults, which its Go defaulting functions apply and no marker states,
//     become schema defaults, so that they are persisted on create as upstream persists them.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func main() {
	var dir string
	fix := fixFile
	switch {
	case len(os.Args) == 2:
		dir = os.Args[1]
	case len(os.Args) == 4 && os.Args[1] == "-chart":
		dir = os.Args[2]
		fix = func(f string) error { return chartCopy(f, filepath.Join(os.Args[3], filepath.Base(f))) }
	default:
		fmt.Fprintln(os.Stderr, "usage: crdfix DIR (the directory of generated CRD YAML files), or crdfix -chart DIR OUT (copies for the Helm chart, without descriptions)")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range files {
		if err := fix(f); err != nil {
			fmt.Fprintf(os.Stderr, "crdfix: %s: %v\n", f, err)
			os.Exit(1)
		}
	}
}

func fixFile(path string) error {
	crd, err := readCRD(path)
	if err != nil {
		return err
	}
	for i := range crd.Spec.Versions {
		if s := crd.Spec.Versions[i].Schema; s != nil && s.OpenAPIV3Schema != nil {
			requireListMapKeys(s.OpenAPIV3Schema)
			boundLabelValues(s.OpenAPIV3Schema)
			if err := setDefaults(s.OpenAPIV3Schema, defaultsByCRD()[crd.Name]); err != nil {
				return err
			}
		}
	}
	return writeCRD(path, crd)
}

// readCRD reads the CRD in path, refusing fields it does not know.
func readCRD(path string) (*apiextensionsv1.CustomResourceDefinition, error) {
	in, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	return crd, yaml.UnmarshalStrict(in, crd)
}

// writeCRD writes crd to path as controller-gen does: without status or a creation time.
func writeCRD(path string, crd *apiextensionsv1.CustomResourceDefinition) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		return err
	}
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	out, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

// walk calls fix on s and on every schema below it, parents before children. The name is
// the property name s has in its parent object, or "" for list items and map values.
func walk(name string, s *apiextensionsv1.JSONSchemaProps, fix func(name string, s *apiextensionsv1.JSONSchemaProps)) {
	if s == nil {
		return
	}
	fix(name, s)
	for k, p := range s.Properties {
		walk(k, &p, fix)
		s.Properties[k] = p
	}
	if s.Items != nil {
		walk("", s.Items.Schema, fix)
	}
	if s.AdditionalProperties != nil {
		walk("", s.AdditionalProperties.Schema, fix)
	}
}

// requireListMapKeys adds each key of every map-type list below s that has no default to
// the items' required properties.
func requireListMapKeys(s *apiextensionsv1.JSONSchemaProps) {
	walk("", s, func(_ string, s *apiextensionsv1.JSONSchemaProps) {
		if s.XListType == nil || *s.XListType != "map" || s.Items == nil || s.Items.Schema == nil {
			return
		}
		item := s.Items.Schema
		for _, key := range s.XListMapKeys {
			prop, ok := item.Properties[key]
			if ok && prop.Default == nil && !slices.Contains(item.Required, key) {
				item.Required = append(item.Required, key)
			}
		}
		slices.Sort(item.Required)
	})
}

const (
	// labelValueMaxLength is the longest label value upstream accepts (a DNS label).
	labelValueMaxLength = 63
	// matchLabelsMaxProperties bounds a selector's matchLabels. Upstream sets no bound;
	// no real selector comes near this one.
	matchLabelsMaxProperties = 1024
)

// boundLabelValues caps the values of every labels and matchLabels map below s at the
// length upstream enforces, and the size of matchLabels. Without bounds, the CEL cost
// estimate of a rule that compares a selector with template labels assumes a request's
// worth of megabyte strings, and the apiserver refuses the CRD.
func boundLabelValues(s *apiextensionsv1.JSONSchemaProps) {
	walk("", s, func(name string, s *apiextensionsv1.JSONSchemaProps) {
		if name != "labels" && name != "matchLabels" {
			return
		}
		if s.AdditionalProperties == nil || s.AdditionalProperties.Schema == nil || s.AdditionalProperties.Schema.Type != "string" {
			return
		}
		s.AdditionalProperties.Schema.MaxLength = ptr(int64(labelValueMaxLength))
		if name == "matchLabels" {
			s.MaxProperties = ptr(int64(matchLabelsMaxProperties))
		}
	})
}

func ptr[T any](v T) *T { return &v }
