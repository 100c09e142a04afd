package apiservice

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get,resourceNames=kubernetes

// Service is the kubernetes Service as a node serves it: the address and port of its
// https port, parsed.
type Service struct {
	ClusterIP netip.Addr
	Port      uint16
}

// name is the Service the apiserver keeps for itself.
var name = types.NamespacedName{Namespace: metav1.NamespaceDefault, Name: "kubernetes"}

// Discover reads the kubernetes Service, waiting while it does not exist yet (a new
// apiserver creates it a moment after it starts).
func Discover(ctx context.Context, c client.Reader) (Service, error) {
	svc := &corev1.Service{}
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, name, svc)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return Service{}, fmt.Errorf("reading Service %s, where pods reach the apiserver: %w", name, err)
	}
	return parse(svc)
}

// parse takes svc's IPv4 cluster IP and its TCP port named https, or its only TCP port.
func parse(svc *corev1.Service) (Service, error) {
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() {
		return Service{}, fmt.Errorf("Service %s: spec.clusterIP %q is not an IPv4 address pods can be given", name, svc.Spec.ClusterIP)
	}
	var tcp []corev1.ServicePort
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolTCP || p.Protocol == "" {
			tcp = append(tcp, p)
		}
	}
	for _, p := range tcp {
		if p.Name == "https" || len(tcp) == 1 {
			if p.Port < 1 || p.Port > 65535 {
				return Service{}, fmt.Errorf("Service %s: port %d is not within 1-65535", name, p.Port)
			}
			return Service{ClusterIP: ip, Port: uint16(p.Port)}, nil
		}
	}
	return Service{}, fmt.Errorf("Service %s has no TCP port named https", name)
}

// Env is the environment every container gets for the kubernetes Service, as upstream's
// kubelet writes it for a Service named kubernetes with a TCP port named https.
func (s Service) Env() []corev1.EnvVar {
	host, port := s.ClusterIP.String(), strconv.Itoa(int(s.Port))
	url := "tcp://" + host + ":" + port
	prefix := "KUBERNETES_PORT_" + port + "_TCP"
	return []corev1.EnvVar{
		{Name: "KUBERNETES_SERVICE_HOST", Value: host},
		{Name: "KUBERNETES_SERVICE_PORT", Value: port},
		{Name: "KUBERNETES_SERVICE_PORT_HTTPS", Value: port},
		{Name: "KUBERNETES_PORT", Value: url},
		{Name: prefix, Value: url},
		{Name: prefix + "_PROTO", Value: strings.ToLower(string(corev1.ProtocolTCP))},
		{Name: prefix + "_PORT", Value: port},
		{Name: prefix + "_ADDR", Value: host},
	}
}

// DNSRecord is the Service as the cluster DNS answers for it: kubernetes.default.svc.
func (s Service) DNSRecord() corev1alpha1.Service {
	return corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
		Spec: corev1.ServiceSpec{ClusterIP: s.ClusterIP.String(), Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: int32(s.Port)}}}}
}
