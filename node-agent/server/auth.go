package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The cluster's client CA, which kube-apiserver publishes for servers that delegate
// authentication to it; readable by the Role extension-apiserver-authentication-reader.
const (
	clientCANamespace = "kube-system"
	clientCAConfigMap = "extension-apiserver-authentication"
	clientCAKey       = "client-ca-file"
)

// Subresources of kybern's Node that the agent's paths are authorised as, the kubelet's.
const (
	SubresourceProxy   = "proxy"
	SubresourceLog     = "log"
	SubresourceMetrics = "metrics"
	SubresourceStats   = "stats"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Auth authenticates and authorises the agent's callers through the apiserver, as the
// kubelet with --authentication-token-webhook and --authorization-mode=Webhook: bearer
// tokens by TokenReview, client certificates against the cluster's client CA, every
// request by SubjectAccessReview. No anonymous request passes.
type Auth struct {
	Authenticator authenticator.Request
	Authorizer    authorizer.Authorizer
	// Node is the name of the Node whose subresources requests are authorised against.
	Node string
}

// NewAuth builds Auth on client, the agent's own credential (which may create
// TokenReviews and SubjectAccessReviews). The client CA is the file clientCAFile when
// set, else the one kube-apiserver publishes, followed as it changes until ctx ends.
func NewAuth(ctx context.Context, client kubernetes.Interface, node, clientCAFile string) (*Auth, error) {
	var ca dynamiccertificates.CAContentProvider
	if clientCAFile != "" {
		fileCA, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--client-ca-file=%s: %w", clientCAFile, err)
		}
		go fileCA.Run(ctx, 1)
		ca = fileCA
	} else {
		published, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", clientCANamespace, clientCAConfigMap, clientCAKey, client)
		if err != nil {
			return nil, err
		}
		if err := published.RunOnce(ctx); err != nil {
			return nil, fmt.Errorf("reading the cluster's client CA (ConfigMap %s/%s, key %s): %w: the node agents' RBAC (config/rbac/node-agent, which make install and the chart apply) lets them read it; or give --client-ca-file",
				clientCANamespace, clientCAConfigMap, clientCAKey, err)
		}
		go published.Run(ctx, 1)
		ca = published
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                          &apiserver.AnonymousAuthConfig{Enabled: false},
		TokenAccessReviewClient:            client.AuthenticationV1(),
		TokenAccessReviewTimeout:           10 * time.Second,
		WebhookRetryBackoff:                webhookBackoff(),
		CacheTTL:                           2 * time.Minute,
		ClientCertificateCAContentProvider: ca,
	}.New()
	if err != nil {
		return nil, err
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client.AuthorizationV1(),
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       webhookBackoff(),
	}.New()
	if err != nil {
		return nil, err
	}
	return &Auth{Authenticator: authn, Authorizer: authz, Node: node}, nil
}

// webhookBackoff retries a failed review as kube-apiserver's delegating authenticators do.
func webhookBackoff() *wait.Backoff {
	return &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

// Wrap admits to next only requests whose caller is authenticated (401 otherwise) and
// authorised for the request's attributes (403 otherwise, saying what was missing).
func (a *Auth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := a.Authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := Attributes(resp.User, r, a.Node)
		decision, reason, err := a.Authorizer.Authorize(r.Context(), attrs)
		if decision != authorizer.DecisionAllow {
			msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource=%s)", attrs.User.GetName(), attrs.Verb, attrs.Resource, attrs.Subresource)
			if reason != "" {
				msg += ": " + reason
			}
			if err != nil {
				msg += ": " + err.Error()
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Attributes is what a request to node's agent asks of kybern's Node, as the kubelet maps
// its paths onto Node subresources: /stats → stats, /metrics → metrics, /logs → log,
// everything else (container logs, exec, attach, port-forward) → proxy. The verb follows
// the method, but exec, attach, run and port-forward need create whatever the method:
// their websocket form is a GET, and reading must not let a caller run commands.
func Attributes(u user.Info, r *http.Request, node string) authorizer.AttributesRecord {
	path := r.URL.Path
	subresource := SubresourceProxy
	switch {
	case under(path, "/stats"):
		subresource = SubresourceStats
	case under(path, "/metrics"):
		subresource = SubresourceMetrics
	case under(path, "/logs"):
		subresource = SubresourceLog
	}
	verb := methodVerb(r.Method)
	for _, p := range []string{"/exec", "/attach", "/run", "/portForward"} {
		if under(path, p) {
			verb = "create"
		}
	}
	return authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: corev1alpha1.GroupVersion.Group, APIVersion: corev1alpha1.GroupVersion.Version,
		Resource: "nodes", Subresource: subresource, Name: node, ResourceRequest: true, Path: path,
	}
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func methodVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	default:
		return "get"
	}
}
