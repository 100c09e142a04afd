package specvalidation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestValidateJudgesACopyDefaultedAsUpstreamStoresIt(t *testing.T) {
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	errs, handled, err := Validate(pod, nil)
	if err != nil || !handled || len(errs) > 0 {
		t.Fatalf("a valid pod without defaults: %v %v %v", errs, handled, err)
	}
	if pod.Spec.Containers[0].ImagePullPolicy != "" || pod.Spec.RestartPolicy != "" {
		t.Fatalf("validate changed its input: %+v", pod.Spec)
	}
	if _, handled, _ := Validate(&corev1.ConfigMap{}, nil); handled {
		t.Error("a ConfigMap was judged; upstream's rules here are for the kinds kybern serves")
	}
}

func TestValidateJobGeneratesTheSelectorUpstreamWould(t *testing.T) {
	newJob := func() *batchv1alpha1.Job {
		j := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "7c8f2d4e-0000-4000-8000-000000000001"}}
		j.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "busybox"}}}
		return j
	}
	if errs, _, err := Validate(newJob(), nil); err != nil || len(errs) > 0 {
		t.Fatalf("a Job without a selector: %v %v", errs, err)
	}
	chosen := newJob()
	chosen.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
	chosen.Spec.Template.Labels = map[string]string{"app": "pi"}
	errs, _, _ := Validate(chosen, nil)
	if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "`selector` not auto-generated") {
		t.Fatalf("a selector without manualSelector: %v", errs)
	}
	chosen.Spec.ManualSelector = ptr.To(true)
	if errs, _, _ := Validate(chosen, nil); len(errs) > 0 {
		t.Fatalf("the same selector with manualSelector: %v", errs)
	}
}

func TestValidateDaemonSetTemplateUpdate(t *testing.T) {
	ds := &appsv1alpha1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", ResourceVersion: "1"}}
	ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
	ds.Spec.Template.Labels = map[string]string{"app": "agent"}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox:1"}}
	updated := ds.DeepCopy()
	updated.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if errs, _, err := Validate(updated, ds); err != nil || len(errs) > 0 {
		t.Fatalf("a new image, as kubectl set image writes it: %v %v", errs, err)
	}
	if errs, _, err := Validate(ds.DeepCopy(), ds); err != nil || len(errs) > 0 {
		t.Fatalf("an unchanged template: %v %v", errs, err)
	}
}
