package resolvconf

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Cluster is what the pods of a node resolve names through.
type Cluster struct {
	// Server is the cluster DNS server's address; empty when the node serves none.
	Server string
	// Domain is the cluster domain, such as "cluster.local".
	Domain string
	// Host is the host's own resolv.conf, for dnsPolicy Default.
	Host Conf
}

// Conf is the content of a resolv.conf.
type Conf struct {
	Nameservers, Searches, Options []string
}

// Parse reads the nameserver, search and options lines of a resolv.conf.
func Parse(data string) Conf {
	var r Conf
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

// maxNameservers and maxSearches are the resolver's limits, which the kubelet applies too.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// ForPod is the pod's resolv.conf as the kubelet writes it for its dnsPolicy:
// ClusterFirst (the default, and ClusterFirstWithHostNet) points at the cluster DNS with
// the namespace's search path and ndots:5; Default copies the host's; None has only
// dnsConfig, whose nameservers, searches and options are added to every policy's.
// A dnsConfig value holding a space or a control character is left out: it would add
// lines or words the pod did not ask for.
func ForPod(pod *corev1alpha1.Pod, c *Cluster) string {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault
	}
	var r Conf
	switch {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSDefault || c.Server == "":
		r = c.Host
	default:
		ns := pod.Namespace + ".svc." + c.Domain
		r = Conf{Nameservers: []string{c.Server},
			Searches: append([]string{ns, "svc." + c.Domain, c.Domain}, c.Host.Searches...), Options: []string{"ndots:5"}}
	}
	if d := pod.Spec.DNSConfig; d != nil {
		r.Nameservers = append(slices.Clone(r.Nameservers), words(d.Nameservers)...)
		r.Searches = append(slices.Clone(r.Searches), words(d.Searches)...)
		for _, o := range d.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			if !isWord(opt) {
				continue
			}
			r.Options = slices.DeleteFunc(slices.Clone(r.Options), func(s string) bool { return strings.Split(s, ":")[0] == o.Name })
			r.Options = append(r.Options, opt)
		}
	}
	var b strings.Builder
	for _, s := range r.Nameservers[:min(len(r.Nameservers), maxNameservers)] {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if searches := slices.Compact(r.Searches); len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches[:min(len(searches), maxSearches)], " "))
	}
	if len(r.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(r.Options, " "))
	}
	return b.String()
}

// words keeps the values that are one resolv.conf word each.
func words(values []string) []string {
	var out []string
	for _, v := range values {
		if isWord(v) {
			out = append(out, v)
		}
	}
	return out
}

func isWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}
