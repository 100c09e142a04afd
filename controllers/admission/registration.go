package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;create;update

// ConfigurationName is the name of the ValidatingWebhookConfiguration and of the
// MutatingWebhookConfiguration the manager keeps.
const ConfigurationName = "kybern-admission"

// validatePath takes every request to validate; mutatePath the new Pods, which get their
// service account.
const (
	validatePath = "/validate"
	mutatePath   = "/mutate"
)

// registration points the apiserver at this manager's webhook once it serves: it creates
// or updates both configurations with the webhook's URL and CA. Every replica does, so
// each must serve with the same certificate (--webhook-cert-dir).
type registration struct {
	client   client.Client
	reader   client.Reader
	started  healthz.Checker
	endpoint endpoint
	caBundle []byte
	// done is closed once the configuration is in place.
	done chan struct{}
}

// registered is the readiness check that passes once the apiserver has the configuration.
func (r *registration) registered(*http.Request) error {
	select {
	case <-r.done:
		return nil
	default:
		return errors.New("the admission webhook is not registered with the apiserver yet")
	}
}

// NeedLeaderElection is false: a replica that is not the leader still answers admission.
func (r *registration) NeedLeaderElection() bool { return false }

func (r *registration) Start(ctx context.Context) error {
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return r.started(nil) == nil, nil
	}); err != nil {
		return fmt.Errorf("waiting for the admission webhook to serve: %w", err)
	}
	validating, mutating := configuration(r.endpoint, r.caBundle), mutatingConfiguration(r.endpoint, r.caBundle)
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 8, Cap: 10 * time.Second}, func(ctx context.Context) (bool, error) {
		err := r.apply(ctx, mutating, &admissionregistrationv1.MutatingWebhookConfiguration{}, func(have client.Object) {
			have.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks = mutating.Webhooks
		})
		if err == nil {
			err = r.apply(ctx, validating, &admissionregistrationv1.ValidatingWebhookConfiguration{}, func(have client.Object) {
				have.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks = validating.Webhooks
			})
		}
		return err == nil, client.IgnoreNotFound(ignoreConflict(err))
	})
	if err != nil {
		return fmt.Errorf("registering the admission webhook as Mutating- and ValidatingWebhookConfiguration %s: %w", ConfigurationName, err)
	}
	close(r.done)
	return nil
}

// apply creates want, or makes the existing configuration (read into have) what want
// says with set.
func (r *registration) apply(ctx context.Context, want, have client.Object, set func(have client.Object)) error {
	err := r.reader.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		return r.client.Create(ctx, want.DeepCopyObject().(client.Object))
	}
	if err != nil {
		return err
	}
	set(have)
	return r.client.Update(ctx, have)
}

// ignoreConflict turns a lost race with another writer into a retry.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// endpoint is where the apiserver reaches the webhook: a URL, or a Service's port 443.
type endpoint struct {
	url             string
	namespace, name string
}

func (e endpoint) clientConfig(path string, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
	if e.url != "" {
		return admissionregistrationv1.WebhookClientConfig{URL: ptr.To(e.url + path), CABundle: caBundle}
	}
	return admissionregistrationv1.WebhookClientConfig{CABundle: caBundle,
		Service: &admissionregistrationv1.ServiceReference{Namespace: e.namespace, Name: e.name, Path: ptr.To(path), Port: ptr.To[int32](443)}}
}

// configuration sends kybern objects to the handler at the endpoint: Pods and workloads for
// upstream's validation and Pod Security; Services, EndpointSlices (which have no spec,
// so every update is sent), Nodes and HorizontalPodAutoscalers for validation. An
// update that leaves the spec as it was (a finalizer, a label, a status) is not sent:
// neither has anything to say of it, and the node agents' updates must not wait on the
// manager. Namespace changes are sent for Pod Security's warnings alone, so that a
// manager that is down never blocks them.
func configuration(at endpoint, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	createUpdate := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: createUpdate, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}
	}
	hook := func(name string, policy admissionregistrationv1.FailurePolicyType, rules ...admissionregistrationv1.RuleWithOperations) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            at.clientConfig(validatePath, caBundle),
			Rules:                   rules,
			FailurePolicy:           ptr.To(policy),
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](10),
		}
	}
	nodes := rule("core.kybern.io", "nodes")
	nodes.Scope = ptr.To(admissionregistrationv1.ClusterScope)
	objects := hook("validation.kybern.io", admissionregistrationv1.Fail,
		rule("core.kybern.io", "pods", "services", "endpointslices"), nodes,
		rule("apps.kybern.io", "deployments", "replicasets", "daemonsets", "statefulsets"),
		rule("batch.kybern.io", "jobs", "cronjobs"),
		rule("autoscaling.kybern.io", "horizontalpodautoscalers"))
	objects.MatchConditions = []admissionregistrationv1.MatchCondition{{
		Name: "spec-set-or-changed", Expression: "request.operation != 'UPDATE' || !has(object.spec) || object.spec != oldObject.spec"}}
	namespaces := hook("namespaces.pod-security.kybern.io", admissionregistrationv1.Ignore, rule("", "namespaces"))
	namespaces.Rules[0].Scope = ptr.To(admissionregistrationv1.ClusterScope)
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigurationName, Labels: map[string]string{"app.kubernetes.io/managed-by": "kybern-manager"}},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{objects, namespaces},
	}
}

// mutatingConfiguration sends every new kybern Pod to the service account mutation.
// Failure policy Fail, as the validation's: a pod created while no manager answers would
// otherwise run without the account and volume its spec implies.
func mutatingConfiguration(at endpoint, caBundle []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigurationName, Labels: map[string]string{"app.kubernetes.io/managed-by": "kybern-manager"}},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         "serviceaccount.kybern.io",
			ClientConfig: at.clientConfig(mutatePath, caBundle),
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{"core.kybern.io"}, APIVersions: []string{"*"}, Resources: []string{"pods"},
					Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](10),
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.NeverReinvocationPolicy),
		}},
	}
}
