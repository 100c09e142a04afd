package podutil

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestTemplateHash(t *testing.T) {
	a := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox:1"}}}}
	b := *a.DeepCopy()
	b.Spec.Containers[0].Image = "busybox:2"
	if TemplateHash(&a, nil) != TemplateHash(a.DeepCopy(), nil) {
		t.Fatal("the hash of equal templates differs")
	}
	if TemplateHash(&a, nil) == TemplateHash(&b, nil) {
		t.Fatal("different templates share a hash")
	}
	if TemplateHash(&a, nil) == TemplateHash(&a, ptr.To[int32](1)) {
		t.Fatal("a collision count must change the hash")
	}
}
