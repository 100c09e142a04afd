package metricsserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// What kube-apiserver publishes for the servers it aggregates: how its front proxy (the
// aggregator) presents itself and names the user it proxies for.
const (
	authNamespace = "kube-system"
	authConfigMap = "extension-apiserver-authentication"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch,namespace=kube-system,resourceNames=extension-apiserver-authentication

// auth admits the apiserver's front proxy, speaking for a user, and what that user may do
// by SubjectAccessReview; nobody else is authenticated.
type auth struct {
	authenticator authenticator.Request
	authorizer    authorizer.Authorizer
	requestInfo   *request.RequestInfoFactory
}

// newAuth reads the front proxy's CA, allowed names and headers from the ConfigMap the
// apiserver publishes, and follows them as they change until ctx ends.
func newAuth(ctx context.Context, client kubernetes.Interface) (*auth, error) {
	ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("requestheader-client-ca", authNamespace, authConfigMap, "requestheader-client-ca-file", client)
	if err != nil {
		return nil, err
	}
	headers := headerrequest.NewRequestHeaderAuthRequestController(authConfigMap, authNamespace, client,
		"requestheader-username-headers", "requestheader-uid-headers", "requestheader-group-headers", "requestheader-extra-headers-prefix", "requestheader-allowed-names")
	if err := ca.RunOnce(ctx); err != nil {
		return nil, fmt.Errorf("reading the apiserver's front-proxy CA (ConfigMap %s/%s, key requestheader-client-ca-file): %w; the apiserver must run with --requestheader-client-ca-file and --proxy-client-cert-file for aggregated APIs to work", authNamespace, authConfigMap, err)
	}
	if err := headers.RunOnce(ctx); err != nil {
		return nil, fmt.Errorf("reading the apiserver's front-proxy headers (ConfigMap %s/%s): %w", authNamespace, authConfigMap, err)
	}
	go ca.Run(ctx, 1)
	go headers.Run(ctx, 1)
	backoff := &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		RequestHeaderConfig: &authenticatorfactory.RequestHeaderConfig{
			UsernameHeaders: headerrequest.StringSliceProviderFunc(headers.UsernameHeaders), UIDHeaders: headerrequest.StringSliceProviderFunc(headers.UIDHeaders), GroupHeaders: headerrequest.StringSliceProviderFunc(headers.GroupHeaders),
			ExtraHeaderPrefixes: headerrequest.StringSliceProviderFunc(headers.ExtraHeaderPrefixes), CAContentProvider: ca,
			AllowedClientNames: headerrequest.StringSliceProviderFunc(headers.AllowedClientNames),
		},
		WebhookRetryBackoff: backoff,
	}.New()
	if err != nil {
		return nil, err
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client.AuthorizationV1(),
		AllowCacheTTL:             10 * time.Second,
		DenyCacheTTL:              10 * time.Second,
		WebhookRetryBackoff:       backoff,
	}.New()
	if err != nil {
		return nil, err
	}
	return &auth{authenticator: authn, authorizer: authz,
		requestInfo: &request.RequestInfoFactory{APIPrefixes: sets.NewString("apis"), GrouplessAPIPrefixes: sets.NewString("api")}}, nil
}

// wrap answers 401 to requests not sent by the front proxy, 403 to a user not allowed the
// request's verb on its resource (or path), and passes the rest to next.
func (a *auth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := a.authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		info, err := a.requestInfo.NewRequestInfo(r)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		attrs := authorizer.AttributesRecord{User: resp.User, Verb: info.Verb, Namespace: info.Namespace, APIGroup: info.APIGroup,
			APIVersion: info.APIVersion, Resource: info.Resource, Subresource: info.Subresource, Name: info.Name,
			ResourceRequest: info.IsResourceRequest, Path: info.Path}
		decision, reason, err := a.authorizer.Authorize(r.Context(), attrs)
		if decision != authorizer.DecisionAllow {
			msg := fmt.Sprintf("user %q cannot %s %s", resp.User.GetName(), attrs.Verb, info.Path)
			if info.IsResourceRequest {
				msg = fmt.Sprintf("user %q cannot %s resource %q in API group %q", resp.User.GetName(), attrs.Verb, attrs.Resource, attrs.APIGroup)
				if attrs.Namespace != "" {
					msg += fmt.Sprintf(" in the namespace %q", attrs.Namespace)
				}
			}
			if reason != "" {
				msg += ": " + reason
			}
			if err != nil {
				msg += ": " + err.Error()
			}
			writeStatus(w, http.StatusForbidden, "Forbidden", msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	})
}
