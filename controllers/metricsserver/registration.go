package metricsserver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=get;create;update;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;create;update,namespace=kybern-system

// APIServiceName is the APIService that registers the metrics API with the apiserver.
var APIServiceName = GroupVersion.Version + "." + GroupVersion.Group

// Where the apiserver reaches a local manager's metrics API, as make run's: an
// ExternalName Service for localhost, since the apiserver refuses loopback endpoints and
// has no kube-proxy to reach a cluster IP.
const (
	LocalServiceNamespace = "kybern-system"
	LocalServiceName      = "kybern-metrics-api"
)

// registration points the apiserver at a local manager's metrics API: the ExternalName
// Service LocalServiceName and the APIService naming it, with the certificate's CA. It
// removes the APIService when the manager stops, so that discovery does not fail for every
// kubectl command while no manager runs.
type registration struct {
	client   client.Client
	caBundle []byte
	// port is the manager's listener's.
	port int32
}

// NeedLeaderElection is false: every replica serves the API.
func (r *registration) NeedLeaderElection() bool { return false }

// Start registers, retrying until it succeeds or ctx ends, then waits for ctx.
func (r *registration) Start(ctx context.Context) error {
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 10, Cap: 10 * time.Second},
		func(ctx context.Context) (bool, error) {
			err := r.register(ctx)
			return err == nil, ignoreConflict(err)
		})
	if err != nil {
		return fmt.Errorf("registering the metrics API as APIService %s: %w", APIServiceName, err)
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	svc := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: APIServiceName}}
	if err := client.IgnoreNotFound(r.client.Delete(stop, svc)); err != nil {
		return fmt.Errorf("removing APIService %s: %w", APIServiceName, err)
	}
	return nil
}

func (r *registration) register(ctx context.Context) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: LocalServiceNamespace, Name: LocalServiceName},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: r.port}}}}
	if err := r.apply(ctx, svc, &corev1.Service{}, func(have client.Object) {
		have.(*corev1.Service).Spec = svc.Spec
	}); err != nil {
		return fmt.Errorf("the Service %s/%s: %w", LocalServiceNamespace, LocalServiceName, err)
	}
	want := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: APIServiceName},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: GroupVersion.Group, Version: GroupVersion.Version, CABundle: r.caBundle,
			Service:              &apiregistrationv1.ServiceReference{Namespace: LocalServiceNamespace, Name: LocalServiceName, Port: ptr.To(r.port)},
			GroupPriorityMinimum: 100, VersionPriority: 100,
		}}
	return r.apply(ctx, want, &apiregistrationv1.APIService{}, func(have client.Object) {
		have.(*apiregistrationv1.APIService).Spec = want.Spec
	})
}

// apply creates want, or makes the existing object (read into have) what want says with
// set.
func (r *registration) apply(ctx context.Context, want, have client.Object, set func(have client.Object)) error {
	err := r.client.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		return r.client.Create(ctx, want)
	}
	if err != nil {
		return err
	}
	set(have)
	return r.client.Update(ctx, have)
}

// ignoreConflict turns a lost race with another replica into a retry.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
