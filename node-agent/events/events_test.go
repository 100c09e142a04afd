package events

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestContainerRefIsTheKybernPodWithTheContainersFieldPath(t *testing.T) {
	pod := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1", ResourceVersion: "7"}}
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
	pod.Spec.Containers = []corev1.Container{{Name: "web"}}
	cases := []struct {
		container, fieldPath string
	}{
		{"web", "spec.containers{web}"},
		{"setup", "spec.initContainers{setup}"},
		{"gone", ""},
	}
	for _, tc := range cases {
		t.Run(tc.container, func(t *testing.T) {
			want := corev1.ObjectReference{APIVersion: "core.kybern.io/v1alpha1", Kind: "Pod", Namespace: "ns", Name: "p", UID: "uid-1",
				ResourceVersion: "7", FieldPath: tc.fieldPath}
			if got := ContainerRef(pod, tc.container); *got != want {
				t.Fatalf("ContainerRef(%s) = %+v, want %+v", tc.container, *got, want)
			}
		})
	}
}

func TestZeroQPSRecordsNothing(t *testing.T) {
	b, err := NewBroadcaster(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}, nil, 0, DefaultBurst)
	if err != nil || b != nil {
		t.Fatalf("NewBroadcaster with qps 0 = %v, %v; want no broadcaster", b, err)
	}
	// A recorder without a broadcaster takes events and drops them.
	NewRecorder(b, nil, "n1").Eventf(&corev1.ObjectReference{}, corev1.EventTypeNormal, Started, "Started container %s", "web")
}
