package servicewatch

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func TestSlicesByService(t *testing.T) {
	slice := func(ns, name, svc string, family discoveryv1.AddressType) corev1alpha1.EndpointSlice {
		return corev1alpha1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: family}
	}
	got := SlicesByService([]corev1alpha1.EndpointSlice{
		slice("a", "web-1", "web", discoveryv1.AddressTypeIPv4),
		slice("a", "web-2", "web", discoveryv1.AddressTypeIPv4),
		slice("b", "web-1", "web", discoveryv1.AddressTypeIPv4),
		slice("a", "web-6", "web", discoveryv1.AddressTypeIPv6),
	})
	want := map[string][]string{"a/web": {"web-1", "web-2"}, "b/web": {"web-1"}}
	if len(got) != len(want) {
		t.Fatalf("got services %v, want %v", got, want)
	}
	for key, names := range want {
		if len(got[key]) != len(names) {
			t.Errorf("%s: got %d slices, want %v", key, len(got[key]), names)
			continue
		}
		for i, name := range names {
			if got[key][i].Name != name {
				t.Errorf("%s slice %d: got %s, want %s", key, i, got[key][i].Name, name)
			}
		}
	}
}

func TestReady(t *testing.T) {
	cases := []struct {
		name  string
		ready *bool
		want  bool
	}{
		{"ready unset counts as ready", nil, true},
		{"ready true", ptr.To(true), true},
		{"ready false", ptr.To(false), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Ready(discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: c.ready}}); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
