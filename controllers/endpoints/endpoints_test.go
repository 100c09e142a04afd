package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func newSvc(opts ...func(*corev1alpha1.Service)) *corev1alpha1.Service {
	s := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "svc-uid"}}
	s.Spec.Selector = map[string]string{"app": "web"}
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newPod(name, ip string, opts ...func(*corev1alpha1.Pod)) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name), Labels: map[string]string{"app": "web"}}}
	p.Spec.NodeName = "node-1"
	p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9000}}}}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	for _, o := range opts {
		o(p)
	}
	return p
}

func ready(p *corev1alpha1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}

func terminating(p *corev1alpha1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }

func TestEndpointFor(t *testing.T) {
	publish := func(s *corev1alpha1.Service) { s.Spec.PublishNotReadyAddresses = true }
	cases := []struct {
		name                          string
		svc                           *corev1alpha1.Service
		pod                           *corev1alpha1.Pod
		wantOK                        bool
		ready, serving, isTerminating bool
		hostname                      string
	}{
		{"ready pod", newSvc(), newPod("a", "10.244.0.5", ready), true, true, true, false, ""},
		{"unready pod", newSvc(), newPod("a", "10.244.0.5"), true, false, false, false, ""},
		{"ready and terminating: serving, not ready", newSvc(), newPod("a", "10.244.0.5", ready, terminating), true, false, true, true, ""},
		{"unready and terminating", newSvc(), newPod("a", "10.244.0.5", terminating), true, false, false, true, ""},
		{"publishNotReadyAddresses: unready is ready", newSvc(publish), newPod("a", "10.244.0.5"), true, true, false, false, ""},
		{"publishNotReadyAddresses: terminating is ready", newSvc(publish), newPod("a", "10.244.0.5", terminating), true, true, false, true, ""},
		{"no IP: no endpoint", newSvc(), newPod("a", "", ready), false, false, false, false, ""},
		{"IPv6 only: no endpoint", newSvc(), newPod("a", "fd00::5", ready), false, false, false, false, ""},
		{"succeeded: no endpoint", newSvc(), newPod("a", "10.244.0.5", func(p *corev1alpha1.Pod) { p.Status.Phase = corev1.PodSucceeded }), false, false, false, false, ""},
		{"hostname with the Service as subdomain", newSvc(), newPod("a", "10.244.0.5", ready, func(p *corev1alpha1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
		}), true, true, true, false, "web-0"},
		{"hostname with another subdomain: none", newSvc(), newPod("a", "10.244.0.5", ready, func(p *corev1alpha1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = "web-0", "other"
		}), true, true, true, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep, ok := endpointFor(tc.svc, tc.pod)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			c := ep.Conditions
			if *c.Ready != tc.ready || *c.Serving != tc.serving || *c.Terminating != tc.isTerminating {
				t.Errorf("ready %v serving %v terminating %v; want %v %v %v", *c.Ready, *c.Serving, *c.Terminating, tc.ready, tc.serving, tc.isTerminating)
			}
			if ptr.Deref(ep.Hostname, "") != tc.hostname {
				t.Errorf("hostname %q, want %q", ptr.Deref(ep.Hostname, ""), tc.hostname)
			}
			if ep.TargetRef.Name != tc.pod.Name || ep.TargetRef.Kind != "Pod" || ptr.Deref(ep.NodeName, "") != "node-1" {
				t.Errorf("targetRef %+v, nodeName %v", ep.TargetRef, ep.NodeName)
			}
		})
	}
}

func TestPortsFor(t *testing.T) {
	named := func(name string, proto corev1.Protocol) func(*corev1alpha1.Service) {
		return func(s *corev1alpha1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "named", Port: 81, Protocol: proto, TargetPort: intstr.FromString(name)})
		}
	}
	cases := []struct {
		name string
		svc  *corev1alpha1.Service
		want string
	}{
		{"a numbered targetPort", newSvc(), "http/TCP/8080"},
		{"a named targetPort resolves from the container ports", newSvc(named("web", corev1.ProtocolTCP)), "http/TCP/8080,named/TCP/9000"},
		{"a pod without the named port lacks that port", newSvc(named("metrics", corev1.ProtocolTCP)), "http/TCP/8080"},
		{"the name must match the protocol too", newSvc(named("web", corev1.ProtocolUDP)), "http/TCP/8080"},
		{"an unset targetPort is the port", newSvc(func(s *corev1alpha1.Service) { s.Spec.Ports[0].TargetPort = intstr.IntOrString{} }), "http/TCP/80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := portsKey(portsFor(tc.svc, newPod("a", "10.244.0.5"))); got != tc.want {
				t.Fatalf("ports %q, want %q", got, tc.want)
			}
		})
	}
}

// pods is n ready pods with distinct addresses.
func pods(n int) []*corev1alpha1.Pod {
	out := make([]*corev1alpha1.Pod, n)
	for i := range out {
		out[i] = newPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), ready)
	}
	return out
}

// applied is what the slices of existing become after p, with new slices named
// <round>-0, <round>-1, ….
func applied(round string, existing []*corev1alpha1.EndpointSlice, p plan) []*corev1alpha1.EndpointSlice {
	byName := map[string]*corev1alpha1.EndpointSlice{}
	for _, s := range existing {
		byName[s.Name] = s
	}
	for _, s := range p.update {
		byName[s.Name] = s
	}
	for _, s := range p.delete {
		delete(byName, s.Name)
	}
	for i, s := range p.create {
		s = s.DeepCopy()
		s.Name = fmt.Sprintf("%s-%d", round, i)
		byName[s.Name] = s
	}
	var out []*corev1alpha1.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func countEndpoints(slices []*corev1alpha1.EndpointSlice) int {
	n := 0
	for _, s := range slices {
		n += len(s.Endpoints)
	}
	return n
}

func TestPlanSlices(t *testing.T) {
	svc := newSvc()
	cases := []struct {
		name string
		// before is the pods of the first round, after of the second.
		before, after                   []*corev1alpha1.Pod
		wantCreate, wantUpdate, wantDel int
		wantSlices                      int
	}{
		{"no pods: one placeholder", nil, nil, 0, 0, 0, 1},
		{"250 pods: three slices of at most 100", nil, pods(250), 2, 1, 0, 3},
		{"a pod more fills a slice with room: one update", pods(250), pods(251), 0, 1, 0, 3},
		{"no change: no writes", pods(250), pods(250), 0, 0, 0, 3},
		{"a pod becomes unready: one update", pods(3), append(pods(2), newPod("p002", "10.244.0.3")), 0, 1, 0, 1},
		{"all pods gone: the last slice becomes the placeholder", pods(150), nil, 0, 1, 1, 1},
		{"pods with different ports get different slices", nil, append(pods(2), newPod("x", "10.244.9.9", ready, func(p *corev1alpha1.Pod) {
			p.Spec.Containers[0].Ports = nil
		})), 1, 1, 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			named := svc.DeepCopy()
			named.Spec.Ports = append(named.Spec.Ports, corev1.ServicePort{Name: "named", Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")})
			first := applied("first", nil, planSlices(named, nil, desiredGroups(named, tc.before)))
			for _, s := range first {
				s.UID = types.UID(s.Name)
			}
			p := planSlices(named, first, desiredGroups(named, tc.after))
			if len(p.create) != tc.wantCreate || len(p.update) != tc.wantUpdate || len(p.delete) != tc.wantDel {
				t.Fatalf("create %d update %d delete %d; want %d %d %d", len(p.create), len(p.update), len(p.delete), tc.wantCreate, tc.wantUpdate, tc.wantDel)
			}
			after := applied("second", first, p)
			if len(after) != tc.wantSlices || countEndpoints(after) != len(tc.after) {
				t.Fatalf("%d slices with %d endpoints; want %d with %d", len(after), countEndpoints(after), tc.wantSlices, len(tc.after))
			}
			for _, s := range after {
				if len(s.Endpoints) > maxEndpointsPerSlice || s.AddressType != discoveryv1.AddressTypeIPv4 ||
					s.Labels[LabelServiceName] != "web" || s.Labels[LabelManagedBy] != ManagedBy || !metav1.IsControlledBy(s, named) {
					t.Fatalf("slice %s: %d endpoints, labels %v, owners %v", s.Name, len(s.Endpoints), s.Labels, s.OwnerReferences)
				}
			}
		})
	}
}

func TestPlanSlicesDeletesSlicesOfAnotherOwner(t *testing.T) {
	svc := newSvc()
	stray := newSlice(newSvc(func(s *corev1alpha1.Service) { s.UID = "old-uid" }), sliceLabels(svc), nil, nil)
	stray.Name = "web-old"
	p := planSlices(svc, []*corev1alpha1.EndpointSlice{stray}, desiredGroups(svc, pods(1)))
	if len(p.delete) != 1 || p.delete[0].Name != "web-old" || len(p.create) != 1 {
		t.Fatalf("create %d, delete %v; want the stray deleted and a new slice", len(p.create), p.delete)
	}
}
