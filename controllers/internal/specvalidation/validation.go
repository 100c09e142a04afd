// Package specvalidation is upstream's own validation of the kinds whose specs kybern's
// reuse (k8s.io/kubernetes pkg/apis/*/validation): the admission webhook refuses what it
// refuses, and the workload controllers act on no object it refuses (one stored before
// the webhook, or on a cluster without it).
package specvalidation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install" // upstream's apps/v1 defaults and conversions
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/autoscaling"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install" // autoscaling/v2's
	autoscalingvalidation "k8s.io/kubernetes/pkg/apis/autoscaling/validation"
	"k8s.io/kubernetes/pkg/apis/batch"
	_ "k8s.io/kubernetes/pkg/apis/batch/install" // batch/v1's
	batchvalidation "k8s.io/kubernetes/pkg/apis/batch/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // core/v1's
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/capabilities"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Privileged containers are the Pod Security levels' to allow or refuse, by namespace, as
// on clusters whose apiserver runs with --allow-privileged=true (kubeadm's and kind's).
func init() { capabilities.Setup(true, 0) }

// Validate checks obj (and, on update, old) with upstream's own validation of the kind
// whose spec the kybern kind reuses, as the apiserver's registry strategy does for the
// built-in kind: the object is defaulted and converted as upstream's apiserver would store
// it, then judged; obj and old are not changed. handled is false for a kind upstream has no rules for here.
func Validate(obj, old runtime.Object) (errs field.ErrorList, handled bool, err error) {
	switch o := obj.(type) {
	case *corev1alpha1.Pod:
		return validatePod(o)
	case *corev1alpha1.Service:
		return validateService(o, old)
	case *corev1alpha1.EndpointSlice:
		return validateEndpointSlice(o, old)
	case *corev1alpha1.Node:
		return validateNode(o, old)
	case *appsv1alpha1.Deployment:
		return judge(obj, old, func(o runtime.Object) runtime.Object {
			d := o.(*appsv1alpha1.Deployment)
			return &appsv1.Deployment{ObjectMeta: d.ObjectMeta, Spec: d.Spec.DeploymentSpec}
		}, func(in *apps.Deployment) field.ErrorList {
			return appsvalidation.ValidateDeployment(in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
		}, func(in, oldIn *apps.Deployment) field.ErrorList {
			return appsvalidation.ValidateDeploymentUpdate(in, oldIn, templateOptions(&in.Spec.Template, &oldIn.Spec.Template, oldIn.Spec.Selector))
		})
	case *appsv1alpha1.ReplicaSet:
		return judge(obj, old, func(o runtime.Object) runtime.Object {
			rs := o.(*appsv1alpha1.ReplicaSet)
			return &appsv1.ReplicaSet{ObjectMeta: rs.ObjectMeta, Spec: rs.Spec}
		}, func(in *apps.ReplicaSet) field.ErrorList {
			return appsvalidation.ValidateReplicaSet(in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
		}, func(in, oldIn *apps.ReplicaSet) field.ErrorList {
			return appsvalidation.ValidateReplicaSetUpdate(in, oldIn, templateOptions(&in.Spec.Template, &oldIn.Spec.Template, oldIn.Spec.Selector))
		})
	case *appsv1alpha1.DaemonSet:
		return judge(obj, old, func(o runtime.Object) runtime.Object {
			ds := o.(*appsv1alpha1.DaemonSet)
			return &appsv1.DaemonSet{ObjectMeta: ds.ObjectMeta, Spec: ds.Spec.DaemonSetSpec}
		}, func(in *apps.DaemonSet) field.ErrorList {
			return appsvalidation.ValidateDaemonSet(in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
		}, func(in, oldIn *apps.DaemonSet) field.ErrorList {
			// apps/v1 has no templateGeneration: upstream's strategy bumps it on a template
			// change before validating, so the rule requiring that holds.
			in.Spec.TemplateGeneration = oldIn.Spec.TemplateGeneration
			if !apiequality.Semantic.DeepEqual(in.Spec.Template, oldIn.Spec.Template) {
				in.Spec.TemplateGeneration++
			}
			return appsvalidation.ValidateDaemonSetUpdate(in, oldIn, templateOptions(&in.Spec.Template, &oldIn.Spec.Template, oldIn.Spec.Selector))
		})
	case *appsv1alpha1.StatefulSet:
		return judge(obj, old, func(o runtime.Object) runtime.Object {
			set := o.(*appsv1alpha1.StatefulSet)
			return &appsv1.StatefulSet{ObjectMeta: set.ObjectMeta, Spec: set.Spec.StatefulSetSpec}
		}, func(in *apps.StatefulSet) field.ErrorList {
			return appsvalidation.ValidateStatefulSet(in, appsvalidation.StatefulSetValidationOptions{},
				podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil))
		}, func(in, oldIn *apps.StatefulSet) field.ErrorList {
			// serviceName and volumeClaimTemplates are immutable: what was stored stays valid.
			setOpts := appsvalidation.StatefulSetValidationOptions{AllowInvalidServiceName: true, SkipValidateVolumeClaimTemplates: true}
			return appsvalidation.ValidateStatefulSetUpdate(in, oldIn, setOpts, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, &oldIn.Spec.Template))
		})
	case *batchv1alpha1.Job:
		return validateJob(o, old)
	case *batchv1alpha1.CronJob:
		return judge(obj, old, func(o runtime.Object) runtime.Object {
			cj := o.(*batchv1alpha1.CronJob)
			return &batchv1.CronJob{ObjectMeta: cj.ObjectMeta, Spec: cj.Spec}
		}, func(in *batch.CronJob) field.ErrorList {
			return batchvalidation.ValidateCronJobCreate(in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.JobTemplate.Spec.Template, nil))
		}, func(in, oldIn *batch.CronJob) field.ErrorList {
			return batchvalidation.ValidateCronJobUpdate(in, oldIn,
				podutil.GetValidationOptionsFromPodTemplate(&in.Spec.JobTemplate.Spec.Template, &oldIn.Spec.JobTemplate.Spec.Template))
		})
	case *autoscalingv1alpha1.HorizontalPodAutoscaler:
		in := &autoscaling.HorizontalPodAutoscaler{}
		if err := upstream(&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: o.ObjectMeta, Spec: o.Spec}, in); err != nil {
			return nil, true, err
		}
		opts := autoscalingvalidation.HorizontalPodAutoscalerSpecValidationOptions{MinReplicasLowerBound: 1,
			ScaleTargetRefValidationOptions: autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{},
			ObjectMetricsValidationOptions:  autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{AllowEmptyAPIGroup: true}}
		return autoscalingvalidation.ValidateHorizontalPodAutoscaler(in, opts), true, nil
	}
	return nil, false, nil
}

// judge turns obj, and old when it is not nil, into upstream's internal form I through
// ext (the upstream versioned object with the same metadata and spec), and judges them
// with create, or update when there is an old object.
func judge[I any, PI interface {
	*I
	runtime.Object
}](obj, old runtime.Object, ext func(runtime.Object) runtime.Object, create func(PI) field.ErrorList, update func(in, oldIn PI) field.ErrorList) (field.ErrorList, bool, error) {
	in := PI(new(I))
	if err := upstream(ext(obj), in); err != nil {
		return nil, true, err
	}
	if old == nil {
		return create(in), true, nil
	}
	oldIn := PI(new(I))
	if err := upstream(ext(old), oldIn); err != nil {
		return nil, true, err
	}
	return update(in, oldIn), true, nil
}

// validatePod judges every pod as a new one: a kybern Pod's spec may change after
// creation, where upstream's update rules assume it cannot.
func validatePod(pod *corev1alpha1.Pod) (field.ErrorList, bool, error) {
	in := &core.Pod{}
	if err := upstream(&corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}, in); err != nil {
		return nil, true, err
	}
	opts := podutil.GetValidationOptionsFromPodSpecAndMeta(&in.Spec, nil, &in.ObjectMeta, nil)
	opts.ResourceIsPod = true
	return corevalidation.ValidatePodCreate(in, opts), true, nil
}

// validateJob judges a Job as upstream's apiserver does, with the selector and labels that
// upstream generates at create (kybern's Job controller generates the same ones later).
func validateJob(job *batchv1alpha1.Job, old runtime.Object) (field.ErrorList, bool, error) {
	in, oldIn := &batch.Job{}, &batch.Job{}
	if err := upstream(&batchv1.Job{ObjectMeta: job.ObjectMeta, Spec: job.Spec}, in); err != nil {
		return nil, true, err
	}
	generateSelector(in)
	opts := batchvalidation.JobValidationOptions{RequirePrefixedLabels: true,
		PodValidationOptions: podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil)}
	if old == nil {
		return batchvalidation.ValidateJobCreate(in, opts), true, nil
	}
	p := old.(*batchv1alpha1.Job)
	if err := upstream(&batchv1.Job{ObjectMeta: p.ObjectMeta, Spec: p.Spec, Status: p.Status}, oldIn); err != nil {
		return nil, true, err
	}
	generateSelector(oldIn)
	opts.PodValidationOptions = podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, &oldIn.Spec.Template)
	opts.AllowMutableSchedulingDirectives = oldIn.Spec.Suspend != nil && *oldIn.Spec.Suspend && oldIn.Status.StartTime == nil
	return batchvalidation.ValidateJobUpdate(in, oldIn, opts), true, nil
}

// generateSelector gives a Job without manualSelector the template labels and selector
// entry upstream's apiserver adds at create, leaving what the user set, so that a
// conflicting choice fails validation as it does upstream.
func generateSelector(job *batch.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for key, value := range map[string]string{batch.LegacyJobNameLabel: job.Name, batch.JobNameLabel: job.Name,
		batch.LegacyControllerUidLabel: string(job.UID), batch.ControllerUidLabel: string(job.UID)} {
		if _, set := job.Spec.Template.Labels[key]; !set {
			job.Spec.Template.Labels[key] = value
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := job.Spec.Selector.MatchLabels[batch.ControllerUidLabel]; !set {
		job.Spec.Selector.MatchLabels[batch.ControllerUidLabel] = string(job.UID)
	}
}

// templateOptions are upstream's validation options for a template update, tolerating a
// selector value that was stored before upstream tightened label values.
func templateOptions(tmpl, oldTmpl *core.PodTemplateSpec, oldSelector *metav1.LabelSelector) corevalidation.PodValidationOptions {
	opts := podutil.GetValidationOptionsFromPodTemplate(tmpl, oldTmpl)
	opts.AllowInvalidLabelValueInSelector = opts.AllowInvalidLabelValueInSelector || metav1validation.LabelSelectorHasInvalidLabelValue(oldSelector)
	return opts
}

// upstream defaults a copy of ext, an upstream versioned object, as upstream's apiserver
// would, and converts it into in, upstream's internal form that its validation reads. The
// copy keeps defaulting out of the kybern object whose fields ext shares.
func upstream(ext, in runtime.Object) error {
	ext = ext.DeepCopyObject()
	legacyscheme.Scheme.Default(ext)
	if err := legacyscheme.Scheme.Convert(ext, in, nil); err != nil {
		return fmt.Errorf("converting %T for validation: %w", ext, err)
	}
	return nil
}
