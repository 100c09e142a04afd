package main

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func listMap(keys []string, item apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{
		Type:         "array",
		XListType:    ptr("map"),
		XListMapKeys: keys,
		Items:        &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &item},
	}
}

func TestRequireListMapKeys(t *testing.T) {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	defaulted := apiextensionsv1.JSONSchemaProps{Type: "string", Default: &apiextensionsv1.JSON{Raw: []byte(`"TCP"`)}}
	cases := []struct {
		name string
		item apiextensionsv1.JSONSchemaProps
		keys []string
		want []string
	}{
		{"optional key becomes required", apiextensionsv1.JSONSchemaProps{Properties: map[string]apiextensionsv1.JSONSchemaProps{"type": str, "status": str}}, []string{"type"}, []string{"type"}},
		{"defaulted key stays optional", apiextensionsv1.JSONSchemaProps{Properties: map[string]apiextensionsv1.JSONSchemaProps{"containerPort": str, "protocol": defaulted}, Required: []string{"containerPort"}}, []string{"containerPort", "protocol"}, []string{"containerPort"}},
		{"required key is not repeated", apiextensionsv1.JSONSchemaProps{Properties: map[string]apiextensionsv1.JSONSchemaProps{"name": str}, Required: []string{"name"}}, []string{"name"}, []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"status": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"conditions": listMap(tc.keys, tc.item)}},
			}}
			requireListMapKeys(&root)
			got := root.Properties["status"].Properties["conditions"].Items.Schema.Required
			if !slices.Equal(got, tc.want) {
				t.Fatalf("required = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBoundLabelValues(t *testing.T) {
	stringMap := func() apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "object", AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}}}
	}
	root := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
		"selector": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"matchLabels": stringMap()}},
		"template": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"metadata": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"labels": stringMap(), "annotations": stringMap()}},
		}},
	}}
	boundLabelValues(&root)

	match := root.Properties["selector"].Properties["matchLabels"]
	if got := *match.AdditionalProperties.Schema.MaxLength; got != 63 {
		t.Errorf("matchLabels value maxLength = %d, want 63", got)
	}
	if match.MaxProperties == nil || *match.MaxProperties != matchLabelsMaxProperties {
		t.Errorf("matchLabels maxProperties = %v, want %d", match.MaxProperties, matchLabelsMaxProperties)
	}
	meta := root.Properties["template"].Properties["metadata"]
	if got := meta.Properties["labels"].AdditionalProperties.Schema.MaxLength; got == nil || *got != 63 {
		t.Errorf("template labels value maxLength = %v, want 63", got)
	}
	if meta.Properties["labels"].MaxProperties != nil {
		t.Errorf("template labels got maxProperties; upstream bounds no label count")
	}
	if got := meta.Properties["annotations"].AdditionalProperties.Schema.MaxLength; got != nil {
		t.Errorf("annotations got maxLength %d; only label values are bounded", *got)
	}
}

func TestSetDefaults(t *testing.T) {
	obj := func(props map[string]apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props}
	}
	root := obj(map[string]apiextensionsv1.JSONSchemaProps{
		"spec": obj(map[string]apiextensionsv1.JSONSchemaProps{
			"replicas": {Type: "integer"},
			"containers": {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: ptr(obj(map[string]apiextensionsv1.JSONSchemaProps{
				"terminationMessagePolicy": {Type: "string"},
			}))}},
		}),
	})
	if err := setDefaults(&root, []fieldDefault{{"spec.replicas", `1`}, {"spec.containers[].terminationMessagePolicy", `"File"`}}); err != nil {
		t.Fatal(err)
	}
	spec := root.Properties["spec"]
	if got := string(spec.Properties["replicas"].Default.Raw); got != `1` {
		t.Errorf("replicas default = %s", got)
	}
	if got := string(spec.Properties["containers"].Items.Schema.Properties["terminationMessagePolicy"].Default.Raw); got != `"File"` {
		t.Errorf("terminationMessagePolicy default = %s", got)
	}

	for _, bad := range []string{"spec.replica", "spec.replicas[].x", "status.replicas"} {
		if err := setDefaults(&root, []fieldDefault{{bad, `1`}}); err == nil {
			t.Errorf("setDefaults(%s) succeeded; want an error naming the missing field", bad)
		}
	}
}
