package main

import apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

// chartCopy writes the CRD at src to dst without its schema's descriptions. Helm keeps a
// release's whole chart in one Secret, which may hold 1 MiB; kybern's CRDs reuse
// upstream's pod spec, whose descriptions make them 4.7 MB of YAML, and 1.6 MB without them.
// The schema is otherwise the same, so the apiserver validates and defaults as it does
// with config/crd/bases; only kubectl explain says less.
func chartCopy(src, dst string) error {
	crd, err := readCRD(src)
	if err != nil {
		return err
	}
	for i := range crd.Spec.Versions {
		if s := crd.Spec.Versions[i].Schema; s != nil && s.OpenAPIV3Schema != nil {
			walk("", s.OpenAPIV3Schema, func(_ string, s *apiextensionsv1.JSONSchemaProps) { s.Description = "" })
		}
	}
	return writeCRD(dst, crd)
}
