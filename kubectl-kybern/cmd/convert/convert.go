// Package convert is kubectl kybern convert: it rewrites upstream manifests as kybern's,
// working on the documents as maps, so that fields it does not know survive.
package convert

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"
)

// manifestExtensions are the files convert reads from a directory, as kubectl apply does.
var manifestExtensions = []string{".json", ".yaml", ".yml"}

type options struct {
	streams   genericiooptions.IOStreams
	filenames []string
	recursive bool
	output    string
}

// NewCmdConvert returns the convert command.
func NewCmdConvert(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{streams: streams, output: "yaml"}
	cmd := &cobra.Command{
		Use:                   "convert -f FILENAME",
		DisableFlagsInUseLine: true,
		Short:                 "Convert upstream manifests to kybern's",
		Long: templates.LongDesc(`
			Convert upstream Kubernetes manifests to kybern's.

			apps/v1 Deployments, ReplicaSets, DaemonSets and StatefulSets, batch/v1 Jobs
			and CronJobs, v1 Pods and Services, discovery.k8s.io/v1 EndpointSlices and
			autoscaling/v2 HorizontalPodAutoscalers get the apiVersion of their kybern
			kind; an autoscaler's scaleTargetRef to an apps/v1 Deployment, ReplicaSet or
			StatefulSet moves to apps.kybern.io/v1alpha1. Their specs are upstream's, so
			nothing else changes: every other field, known or not, is kept. Other objects
			(ConfigMaps, Secrets, ServiceAccounts, Namespaces, ...) pass through unchanged.
			The kinds kybern serves at other upstream versions, whose specs differ
			(autoscaling/v1, extensions/v1beta1), are refused.

			Files and directories (-R to recurse) are read in order, each as a stream of
			YAML documents or JSON objects, with '-' for standard input; the objects are
			written in order as one stream: YAML documents, or one JSON object (a v1 List
			of several). Comments and key order are not kept.`),
		Example: templates.Examples(`
			# Convert a manifest and apply it
			kubectl kybern convert -f app.yaml | kubectl apply --server-side -f -

			# Convert every manifest of a directory tree to JSON
			kubectl kybern convert -R -f manifests/ -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.filenames) == 0 {
				return errors.New("must specify -f: the files, directories or '-' (standard input) to convert")
			}
			if o.output != "yaml" && o.output != "json" {
				return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", o.output)
			}
			return o.run()
		},
	}
	cmd.Flags().StringSliceVarP(&o.filenames, "filename", "f", o.filenames, "Filename, directory, or '-' for standard input, of the manifests to convert.")
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "R", o.recursive, "Process the directory used in -f, --filename recursively.")
	cmd.Flags().StringVarP(&o.output, "output", "o", o.output, "Output format. One of: (json, yaml).")
	return cmd
}

func (o *options) run() error {
	var objs []map[string]any
	for _, name := range o.filenames {
		read, err := o.readPath(name)
		if err != nil {
			return err
		}
		objs = append(objs, read...)
	}
	return write(o.streams.Out, objs, o.output)
}

// readPath reads and converts the objects of a file, standard input ("-") or a directory's
// manifest files, in lexical order.
func (o *options) readPath(name string) ([]map[string]any, error) {
	if name == "-" {
		return readStream(o.streams.In, "standard input")
	}
	info, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("the path %q does not exist", name)
	}
	if !info.IsDir() {
		return readFile(name)
	}
	var out []map[string]any
	err = filepath.WalkDir(name, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != name && !o.recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !slices.Contains(manifestExtensions, strings.ToLower(filepath.Ext(path))) {
			return nil
		}
		objs, err := readFile(path)
		out = append(out, objs...)
		return err
	})
	return out, err
}

func readFile(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return readStream(f, path)
}

// readStream decodes and converts each YAML document or JSON object of r, skipping empty
// ones. Numbers keep their literal form: an integer never turns into a float.
func readStream(r io.Reader, source string) ([]map[string]any, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(r), 4096)
	var out []map[string]any
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading document %d of %s: %w", doc, source, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		obj, err := decodeObject(raw)
		if err != nil {
			return nil, fmt.Errorf("reading document %d of %s: %w", doc, source, err)
		}
		if err := Object(obj); err != nil {
			return nil, fmt.Errorf("converting document %d of %s: %w", doc, source, err)
		}
		out = append(out, obj)
	}
}

func decodeObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	if obj["apiVersion"] == nil || obj["kind"] == nil {
		return nil, errors.New("the object has no apiVersion or kind: every manifest object needs both")
	}
	return obj, nil
}

// write writes objs as YAML documents, or as JSON: the object alone, or a v1 List of them.
func write(w io.Writer, objs []map[string]any, format string) error {
	if format == "json" {
		var v any = map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}, "items": objs}
		if len(objs) == 1 {
			v = objs[0]
		}
		data, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	}
	for i, obj := range objs {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}
