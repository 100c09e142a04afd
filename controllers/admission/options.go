package admission

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	psaapi "k8s.io/pod-security-admission/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Options are the webhook's manager flags.
type Options struct {
	// BindAddress is host:port the webhook serves on, and where the apiserver is told to
	// send requests; "0" serves no webhook.
	BindAddress string
	// CertDir holds tls.crt, tls.key and ca.crt when the serving certificate is provided;
	// empty, the manager makes a self-signed one at start.
	CertDir string
	// Service, "<namespace>/<name>", is the Service in front of the manager's pods that
	// the apiserver is told to call (port 443), as in a cluster; empty, it is told to call
	// BindAddress itself.
	Service string
	// DefaultLevel is the Pod Security level enforced, warned and audited in namespaces
	// that carry no pod-security.kubernetes.io label for that mode.
	DefaultLevel string
	// Exempt are Pod Security's exemptions, as upstream's admission configuration has them.
	Exempt Exemptions
}

// BindFlags registers the options as flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "webhook-bind-address", "127.0.0.1:9443",
		"host:port the admission webhook serves on; the apiserver is told to call https://<host>:<port>, so host must be an address it reaches. 0 turns admission off, and with it Pod Security for kybern pods.")
	fs.StringVar(&o.Service, "webhook-service", "", "<namespace>/<name> of the Service (port 443) in front of the manager's pods that the apiserver calls, as the Helm chart sets it; --webhook-bind-address may then be :9443. Empty: the apiserver calls --webhook-bind-address.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", "", "Directory with the webhook's serving certificate (tls.crt, tls.key) and its CA (ca.crt); empty makes a self-signed one at start.")
	fs.StringVar(&o.DefaultLevel, "pod-security-default-level", string(psaapi.LevelBaseline),
		"Pod Security level (privileged, baseline or restricted) for namespaces without a pod-security.kubernetes.io/<mode> label.")
	fs.Var(list{&o.Exempt.Namespaces}, "pod-security-exempt-namespaces", "Comma-separated namespaces whose kybern pods and workloads Pod Security does not judge, as upstream's exemptions.namespaces.")
	fs.Var(list{&o.Exempt.Usernames}, "pod-security-exempt-usernames", "Comma-separated users whose requests Pod Security does not judge, as upstream's exemptions.usernames (pods a controller creates are its requests).")
	fs.Var(list{&o.Exempt.RuntimeClasses}, "pod-security-exempt-runtime-classes", "Comma-separated runtimeClassNames whose pods Pod Security does not judge, as upstream's exemptions.runtimeClasses.")
}

// list is a flag of comma-separated values.
type list struct{ values *[]string }

func (l list) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l list) Set(s string) error {
	*l.values = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.values = append(*l.values, v)
		}
	}
	return nil
}

// Enabled tells whether the manager serves the webhook.
func (o *Options) Enabled() bool { return o.BindAddress != "0" }

// Validate names the first flag whose value cannot work.
func (o *Options) Validate() error {
	if _, err := o.level(); err != nil || !o.Enabled() {
		return err
	}
	for _, ns := range o.Exempt.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--pod-security-exempt-namespaces: %q is not a namespace name (%s); list namespaces separated by commas", ns, strings.Join(errs, "; "))
		}
	}
	for _, rc := range o.Exempt.RuntimeClasses {
		if errs := validation.IsDNS1123Subdomain(rc); len(errs) > 0 {
			return fmt.Errorf("--pod-security-exempt-runtime-classes: %q is not a runtime class name (%s); list names separated by commas", rc, strings.Join(errs, "; "))
		}
	}
	if o.Service != "" {
		if _, _, err := o.service(); err != nil {
			return err
		}
	}
	_, _, err := o.hostPort()
	return err
}

// level parses DefaultLevel.
func (o *Options) level() (psaapi.Level, error) {
	level, err := psaapi.ParseLevel(o.DefaultLevel)
	if err != nil {
		return "", fmt.Errorf("--pod-security-default-level=%s: must be privileged, baseline or restricted", o.DefaultLevel)
	}
	return level, nil
}

// service splits Service into its namespace and name.
func (o *Options) service() (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(o.Service, "/")
	if !ok || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Label(name)) > 0 {
		return "", "", fmt.Errorf("--webhook-service=%s: must be <namespace>/<name> of a Service, such as kybern-system/kybern-webhook", o.Service)
	}
	return namespace, name, nil
}

// hostPort splits BindAddress, requiring a host the apiserver can dial unless a Service
// stands in front of it.
func (o *Options) hostPort() (string, int, error) {
	host, p, err := net.SplitHostPort(o.BindAddress)
	if err == nil && o.Service == "" && (host == "" || host == "0.0.0.0" || host == "::") {
		err = errors.New("the host is where the apiserver sends requests, so it must be an address it reaches, such as 127.0.0.1")
	}
	port := 0
	if err == nil {
		port, err = strconv.Atoi(p)
		if err == nil && (port < 1 || port > 65535) {
			err = errors.New("the port must be 1-65535")
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("--webhook-bind-address=%s: %w; for example --webhook-bind-address=127.0.0.1:9443, or 0 to serve no webhook", o.BindAddress, err)
	}
	return host, port, nil
}

// Webhook is the admission webhook of one manager.
type Webhook struct {
	// Server goes into the manager's options.
	Server webhook.Server
	// Registered, once Register ran, passes when the apiserver has the configuration.
	Registered   healthz.Checker
	endpoint     endpoint
	caBundle     []byte
	defaultLevel psaapi.Level
	exempt       Exemptions
}

// New prepares the webhook's server and certificate; Register then adds it to the
// manager made with Server.
func New(o Options) (*Webhook, error) {
	level, err := o.level()
	if err != nil {
		return nil, err
	}
	host, port, err := o.hostPort()
	if err != nil {
		return nil, err
	}
	at, names := endpoint{url: "https://" + net.JoinHostPort(host, strconv.Itoa(port))}, host
	if o.Service != "" {
		if at.namespace, at.name, err = o.service(); err != nil {
			return nil, err
		}
		at.url, names = "", at.name+"."+at.namespace+".svc"
	}
	server, ca, err := serving(o.CertDir, host, port, names)
	if err != nil {
		return nil, err
	}
	return &Webhook{Server: server, endpoint: at, caBundle: ca, defaultLevel: level, exempt: o.Exempt}, nil
}

// Register adds the handlers to mgr's webhook server, the runnable that points the
// apiserver at them once they serve, and the readiness check "admission" that passes once
// it has.
func (w *Webhook) Register(mgr ctrl.Manager) error {
	ps, err := newPodSecurity(mgr.GetClient(), mgr.GetAPIReader(), w.defaultLevel, w.exempt)
	if err != nil {
		return err
	}
	h := &handler{podSecurity: ps, decoder: admission.NewDecoder(mgr.GetScheme()), scheme: mgr.GetScheme()}
	mgr.GetWebhookServer().Register(validatePath, &webhook.Admission{Handler: h})
	mgr.GetWebhookServer().Register(mutatePath, &webhook.Admission{Handler: &serviceAccounts{
		cache: mgr.GetClient(), live: mgr.GetAPIReader(), decoder: admission.NewDecoder(mgr.GetScheme())}})
	r := &registration{client: mgr.GetClient(), reader: mgr.GetAPIReader(), started: mgr.GetWebhookServer().StartedChecker(),
		endpoint: w.endpoint, caBundle: w.caBundle, done: make(chan struct{})}
	w.Registered = r.registered
	if err := mgr.Add(r); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("admission", r.registered)
}
