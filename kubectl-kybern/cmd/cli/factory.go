// Package cli holds what the plugin's commands share: the connection flags and the clients
// they build, the kybern kinds with the names users type for them, resource argument
// parsing, output flags and completion.
package cli

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/api"
)

// Scheme knows the built-in kinds (ControllerRevisions among them) and every kybern kind.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(api.AddToScheme(s))
	return s
}

// Factory builds the clients commands use from kubectl's connection flags (--kubeconfig,
// --context, -n/--namespace, --server, --as, ...), which NewFactory's caller binds to the
// root command's persistent flags.
type Factory struct {
	// Flags are the connection flags.
	Flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
}

// NewFactory returns a Factory whose clients print the API server's warnings to
// streams.ErrOut, as kubectl does.
func NewFactory(streams genericiooptions.IOStreams) *Factory {
	return &Factory{Flags: genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams), streams: streams}
}

// Namespace is the namespace commands act in: -n, else the kubeconfig context's, else
// default. explicit reports whether -n gave it.
func (f *Factory) Namespace() (ns string, explicit bool, err error) {
	return f.Flags.ToRawKubeConfigLoader().Namespace()
}

// RESTConfig is the client configuration the flags describe.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	cfg, err := f.Flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NewWarningWriter(f.streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	return cfg, nil
}

// Client is a controller-runtime client that knows Scheme's kinds, typed and unstructured,
// and can watch.
func (f *Factory) Client() (client.WithWatch, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: Scheme})
}

// Dynamic is a dynamic client, for list-watches of unstructured objects.
func (f *Factory) Dynamic() (dynamic.Interface, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}
