package admission

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psaadmission "k8s.io/pod-security-admission/admission"
	psaconfig "k8s.io/pod-security-admission/admission/api"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.kybern.io,resources=pods,verbs=get;list;watch

// corePods is what upstream's library enforces on; a kybern Pod is handed to it as one.
var corePods = corev1.SchemeGroupVersion.WithResource("pods")

// podSecurity answers admission requests with upstream's Pod Security admission: a kybern
// Pod is judged as a core Pod (enforce, warn, audit), a workload by its pod template
// (warn, audit), as upstream judges Deployments. Levels come from the namespace's
// pod-security.kubernetes.io labels, else the default level, for all three modes.
type podSecurity struct {
	psa *psaadmission.Admission
}

// Exemptions are what upstream's Pod Security admission configuration exempts: requests
// of these users, pods of these runtime classes and objects of these namespaces are not
// judged (and get the exempt audit annotation), as upstream's.
type Exemptions struct {
	Usernames, RuntimeClasses, Namespaces []string
}

// c serves the namespaces and pods from the manager's cache; live reads a namespace the
// cache does not hold yet, as upstream's admission does, so that a pod created right after
// its namespace is judged by that namespace's labels rather than refused.
func newPodSecurity(c, live client.Reader, level psaapi.Level, exempt Exemptions) (*podSecurity, error) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	latest := psaapi.VersionLatest
	psa := &psaadmission.Admission{
		Configuration: &psaconfig.PodSecurityConfiguration{Defaults: psaconfig.PodSecurityDefaults{
			Enforce: string(level), EnforceVersion: latest, Audit: string(level), AuditVersion: latest, Warn: string(level), WarnVersion: latest},
			Exemptions: psaconfig.PodSecurityExemptions{Usernames: exempt.Usernames, RuntimeClasses: exempt.RuntimeClasses, Namespaces: exempt.Namespaces}},
		Evaluator:        evaluator,
		Metrics:          newRecorder(),
		PodSpecExtractor: podSpecs{},
		NamespaceGetter:  namespaces{cache: c, live: live},
		PodLister:        pods{c},
	}
	if err := psa.CompleteConfiguration(); err != nil {
		return nil, err
	}
	if err := psa.ValidateConfiguration(); err != nil {
		return nil, err
	}
	return &podSecurity{psa: psa}, nil
}

// review judges obj (and old, on update), decoded from req, by the namespace's levels.
func (p *podSecurity) review(ctx context.Context, req admission.Request, obj, old runtime.Object) admission.Response {
	attrs := &psaapi.AttributesRecord{
		Name: req.Name, Namespace: req.Namespace, Kind: schema.GroupVersionKind(req.Kind), Resource: schema.GroupVersionResource(req.Resource),
		Subresource: req.SubResource, Operation: req.Operation, Username: req.UserInfo.Username, Object: obj, OldObject: old,
	}
	if attrs.Resource.GroupResource() == kybernPods {
		attrs.Resource, attrs.Kind = corePods, corev1.SchemeGroupVersion.WithKind("Pod")
		attrs.Object, attrs.OldObject = asCorePod(obj), asCorePod(old)
		if attrs.Operation == admissionv1.Update && specChanged(attrs.Object.(*corev1.Pod), attrs.OldObject.(*corev1.Pod)) {
			attrs.Operation, attrs.OldObject = admissionv1.Create, nil
		}
	}
	// The library shares its responses between requests; the server writes into ours.
	return admission.Response{AdmissionResponse: *p.psa.Validate(ctx, attrs).DeepCopy()}
}

// specChanged tells whether an update changes a pod's spec beyond its binding. Upstream
// judges a pod update only when an image changes, because the rest of a core Pod's spec
// is immutable; a kybern Pod's spec is not, so such an update is judged as a new pod is.
// Binding (spec.nodeName) is the scheduler's, and says nothing of the pod's security.
func specChanged(pod, old *corev1.Pod) bool {
	a, b := pod.Spec.DeepCopy(), old.Spec.DeepCopy()
	a.NodeName, b.NodeName = "", ""
	return !equality.Semantic.DeepEqual(a, b)
}

// asCorePod is the core Pod with a kybern Pod's metadata and spec; nil stays nil.
func asCorePod(obj runtime.Object) runtime.Object {
	pod, ok := obj.(*corev1alpha1.Pod)
	if !ok {
		return obj
	}
	return &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
}

// podSpecs finds the pod template in every kybern kind that has one.
type podSpecs struct{}

// templated are the kybern resources with a pod template.
var templated = map[schema.GroupResource]bool{
	{Group: "apps.kybern.io", Resource: "deployments"}:  true,
	{Group: "apps.kybern.io", Resource: "replicasets"}:  true,
	{Group: "apps.kybern.io", Resource: "daemonsets"}:   true,
	{Group: "apps.kybern.io", Resource: "statefulsets"}: true,
	{Group: "batch.kybern.io", Resource: "jobs"}:        true,
	{Group: "batch.kybern.io", Resource: "cronjobs"}:    true,
}

func (podSpecs) HasPodSpec(gr schema.GroupResource) bool {
	return gr == corePods.GroupResource() || templated[gr]
}

func (podSpecs) ExtractPodSpec(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
	var t *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.ObjectMeta, &o.Spec, nil
	case *appsv1alpha1.Deployment:
		t = &o.Spec.Template
	case *appsv1alpha1.ReplicaSet:
		t = &o.Spec.Template
	case *appsv1alpha1.DaemonSet:
		t = &o.Spec.Template
	case *appsv1alpha1.StatefulSet:
		t = &o.Spec.Template
	case *batchv1alpha1.Job:
		t = &o.Spec.Template
	case *batchv1alpha1.CronJob:
		t = &o.Spec.JobTemplate.Spec.Template
	default:
		return nil, nil, fmt.Errorf("%T has no pod template kybern knows", obj)
	}
	return &t.ObjectMeta, &t.Spec, nil
}

// namespaces reads the namespace whose labels set the levels: from the cache, and from
// the apiserver when the cache does not have it.
type namespaces struct{ cache, live client.Reader }

func (n namespaces) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{}
	err := n.cache.Get(ctx, client.ObjectKey{Name: name}, ns)
	if apierrors.IsNotFound(err) {
		err = n.live.Get(ctx, client.ObjectKey{Name: name}, ns)
	}
	return ns, err
}

// pods lists a namespace's kybern Pods as core Pods, for the warnings a namespace label
// change gets about the pods it would refuse.
type pods struct{ client.Reader }

func (p pods) ListPods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	var list corev1alpha1.PodList
	if err := p.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, asCorePod(&list.Items[i]).(*corev1.Pod))
	}
	return out, nil
}
