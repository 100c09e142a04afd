package podworker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/runtime"
)

// DNS is what a pod's /etc/resolv.conf is made from.
type DNS struct {
	// Server is the cluster DNS server's address; empty when the node serves none.
	Server string
	// Domain is the cluster domain, such as "cluster.local".
	Domain string
	// Host is the host's own resolv.conf, for dnsPolicy Default.
	Host ResolvConf
}

// ResolvConf is the content of a resolv.conf.
type ResolvConf struct {
	Nameservers, Searches, Options []string
}

// ParseResolvConf reads the nameserver, search and options lines of a resolv.conf.
func ParseResolvConf(data string) ResolvConf {
	var r ResolvConf
	for line := range strings.Lines(data) {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			r.Nameservers = append(r.Nameservers, fields[1])
		case "search", "domain":
			r.Searches = append(r.Searches, fields[1:]...)
		case "options":
			r.Options = append(r.Options, fields[1:]...)
		}
	}
	return r
}

// resolvConf is the pod's resolv.conf as the kubelet writes it for its dnsPolicy:
// ClusterFirst (the default, and ClusterFirstWithHostNet) points at the cluster DNS with
// the namespace's search path and ndots:5; Default copies the host's; None has only
// dnsConfig, whose nameservers, searches and options are added to every policy's.
func resolvConf(pod *corev1alpha1.Pod, d *DNS) string {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault
	}
	var r ResolvConf
	switch {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSDefault || d.Server == "":
		r = d.Host
	default:
		ns := pod.Namespace + ".svc." + d.Domain
		r = ResolvConf{Nameservers: []string{d.Server},
			Searches: append([]string{ns, "svc." + d.Domain, d.Domain}, d.Host.Searches...), Options: []string{"ndots:5"}}
	}
	if c := pod.Spec.DNSConfig; c != nil {
		r.Nameservers = append(slices.Clone(r.Nameservers), c.Nameservers...)
		r.Searches = append(slices.Clone(r.Searches), c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			r.Options = slices.DeleteFunc(slices.Clone(r.Options), func(s string) bool { return strings.Split(s, ":")[0] == o.Name })
			r.Options = append(r.Options, opt)
		}
	}
	var b strings.Builder
	for _, s := range r.Nameservers[:min(len(r.Nameservers), 3)] {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if searches := slices.Compact(r.Searches); len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches[:min(len(searches), 32)], " "))
	}
	if len(r.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(r.Options, " "))
	}
	return b.String()
}

// resolvConfMount writes the pod's resolv.conf into its directory and mounts it over
// the container's /etc/resolv.conf, read-only.
func (w *Worker) resolvConfMount(pod *corev1alpha1.Pod) ([]runtime.Mount, error) {
	if w.env.DNS == nil || w.env.PodDir == "" {
		return nil, nil
	}
	dir := filepath.Join(w.env.PodDir, string(pod.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(resolvConf(pod, w.env.DNS)), 0o644); err != nil {
		return nil, fmt.Errorf("writing the pod's resolv.conf: %w", err)
	}
	return []runtime.Mount{{Source: path, Destination: "/etc/resolv.conf", ReadOnly: true}}, nil
}
