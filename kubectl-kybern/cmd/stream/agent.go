// Package stream holds the plugin's commands that talk to a pod's node agent rather than
// to the apiserver: logs, exec and port-forward. kubectl reaches a kubelet through the
// apiserver's pod subresources, which kybern's Pods (custom resources) do not have, so
// these commands find the pod's Node and call its agent's API (the kubelet's port, its
// paths and protocols) with the user's own credentials, which the agent checks with the
// apiserver (TokenReview, SubjectAccessReview on kybern's Node: get nodes/proxy to read
// logs, create nodes/proxy to exec and forward ports).
package stream

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

// DefaultContainerAnnotation names the container commands pick when none is given, as
// kubectl's.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// target is a pod and the agent that runs it.
type target struct {
	pod *corev1alpha1.Pod
	// agent reaches the pod's node agent with the user's credentials.
	agent *rest.Config
}

// resolve finds the pod arg names in the command's namespace (NAME, pod/NAME, or TYPE/NAME
// of a workload, whose first running pod is taken, as kubectl does) and its node agent.
func resolve(ctx context.Context, f *cli.Factory, arg string) (*target, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, err
	}
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	pod, err := findPod(ctx, c, ns, arg)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s/%s is not scheduled to a node yet", pod.Namespace, pod.Name)
	}
	node := &corev1alpha1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node); err != nil {
		return nil, fmt.Errorf("node %s of pod %s/%s: %w", pod.Spec.NodeName, pod.Namespace, pod.Name, err)
	}
	host, err := agentHost(node)
	if err != nil {
		return nil, err
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	agent := rest.CopyConfig(cfg)
	agent.Host, agent.APIPath = "https://"+host, ""
	// The agent's certificate names the node's address, not the apiserver's name.
	agent.ServerName = ""
	return &target{pod: pod, agent: agent}, nil
}

// agentHost is host:port of node's agent API: its first internal (else external) IP and
// the kubelet endpoint port it reports.
func agentHost(node *corev1alpha1.Node) (string, error) {
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		return "", fmt.Errorf("node %s reports no agent API port (status.daemonEndpoints.kubeletEndpoint.port): its agent serves no API (--port=0) or predates it; restart the agent with --port", node.Name)
	}
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == kind {
				return net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", fmt.Errorf("node %s reports no IP address in status.addresses: is its agent running?", node.Name)
}

// findPod is the pod arg names.
func findPod(ctx context.Context, c client.Client, ns, arg string) (*corev1alpha1.Pod, error) {
	kindName, name, found := strings.Cut(arg, "/")
	if !found {
		kindName, name = "pod", arg
	}
	kind, err := cli.LookupKind(kindName)
	if err != nil {
		return nil, err
	}
	if kind == cli.Pod {
		pod := &corev1alpha1.Pod{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("pods.core.kybern.io %q not found in namespace %s", name, ns)
			}
			return nil, err
		}
		return pod, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(kind.GVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return nil, err
	}
	raw, found, err := unstructured.NestedMap(obj.Object, "spec", "selector")
	if err != nil || !found {
		return nil, fmt.Errorf("%s has no spec.selector to find its pods by", kind.ObjectName(name))
	}
	sel := &metav1.LabelSelector{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, sel); err != nil {
		return nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	var pods corev1alpha1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("%s has no pods", kind.ObjectName(name))
	}
	first := slices.MinFunc(pods.Items, podOrder)
	return &first, nil
}

// podOrder puts running pods first, then ready ones, then the oldest, as kubectl picks a
// workload's pod.
func podOrder(a, b corev1alpha1.Pod) int {
	rank := func(p corev1alpha1.Pod) int {
		r := 0
		if p.Status.Phase != corev1.PodRunning {
			r += 2
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				r++
			}
		}
		return r
	}
	if d := rank(a) - rank(b); d != 0 {
		return d
	}
	return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
}

// container is the container name asks for, or the pod's default one, saying which on
// errOut when it had to choose, as kubectl does.
func container(pod *corev1alpha1.Pod, name string, note func(string)) (string, error) {
	if name != "" {
		return name, nil
	}
	names := make([]string, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	if d := pod.Annotations[DefaultContainerAnnotation]; d != "" && slices.Contains(names, d) {
		return d, nil
	}
	if len(names) == 0 {
		return "", fmt.Errorf("pod %s/%s has no containers", pod.Namespace, pod.Name)
	}
	if len(names) > 1 {
		note(fmt.Sprintf("Defaulted container %q out of: %s", names[0], strings.Join(names, ", ")))
	}
	return names[0], nil
}

// agentURL is the agent's path for the pod with query q.
func (t *target) agentURL(q url.Values, segments ...string) *url.URL {
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	u, _ := url.Parse(t.agent.Host)
	u.Path = "/" + strings.Join(escaped, "/")
	u.RawQuery = q.Encode()
	return u
}
