package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const app = `# The app.
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources:
          limits: {memory: 1073741824}
        futureField: kept
---
# nothing but a comment
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
`

const appConverted = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps.kybern.io/v1alpha1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - futureField: kept
        image: nginx:1.27
        name: web
        resources:
          limits:
            memory: 1073741824
---
apiVersion: autoscaling.kybern.io/v1alpha1
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
spec:
  maxReplicas: 10
  minReplicas: 1
  scaleTargetRef:
    apiVersion: apps.kybern.io/v1alpha1
    kind: Deployment
    name: web
`

func convert(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := NewCmdConvert(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &out})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestConvertMultiDocumentYAML(t *testing.T) {
	out, err := convert(t, app, "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if out != appConverted {
		t.Errorf("output:\n%s\nwant:\n%s", out, appConverted)
	}
}

func TestConvertJSON(t *testing.T) {
	out, err := convert(t, app, "-f", "-", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 3 || list.Items[1]["apiVersion"] != "apps.kybern.io/v1alpha1" {
		t.Errorf("output = %s", out)
	}
	if !strings.Contains(out, `"memory": 1073741824`) {
		t.Errorf("an integer lost its form: %s", out)
	}

	single, err := convert(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"}}`, "-f", "-", "-o", "json")
	if err != nil || !strings.Contains(single, `"apiVersion": "core.kybern.io/v1alpha1"`) || !strings.Contains(single, `"apiVersion": "batch.kybern.io/v1alpha1"`) {
		t.Errorf("JSON stream output = %s, %v", single, err)
	}
}

func TestConvertDirectories(t *testing.T) {
	dir := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
	write(filepath.Join(dir, "notes.txt"), "not a manifest")
	write(filepath.Join(dir, "sub", "b.json"), `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"b"}}`)

	flat, err := convert(t, "", "-f", dir)
	if err != nil || strings.Count(flat, "kind:") != 1 || !strings.Contains(flat, "core.kybern.io/v1alpha1") {
		t.Errorf("without -R: %s, %v", flat, err)
	}
	deep, err := convert(t, "", "-R", "-f", dir)
	if err != nil || !strings.Contains(deep, "kind: StatefulSet") || !strings.Contains(deep, "apps.kybern.io/v1alpha1") {
		t.Errorf("with -R: %s, %v", deep, err)
	}
}

func TestConvertErrors(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{args: []string{}, want: "must specify -f"},
		{args: []string{"-f", "-", "-o", "wide"}, want: `output format "wide"`},
		{args: []string{"-f", "/does/not/exist"}, want: `the path "/does/not/exist" does not exist`},
		{stdin: "kind: Pod\n", args: []string{"-f", "-"}, want: "document 1 of standard input: the object has no apiVersion or kind"},
		{stdin: "apiVersion: v1\nkind: Pod\n---\napiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n", args: []string{"-f", "-"},
			want: `converting document 2 of standard input: HorizontalPodAutoscaler "h" is autoscaling/v1`},
	} {
		if _, err := convert(t, tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("convert %v: error = %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
