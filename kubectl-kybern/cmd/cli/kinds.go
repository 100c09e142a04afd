package cli

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Kind is a kybern kind the plugin acts on, with the names users type for it: upstream's
// (deployment, deployments, deploy) as well as kybern's short name (kydeploy).
type Kind struct {
	// GVK is the kybern kind.
	GVK schema.GroupVersionKind
	// Resource is the plural resource name, as in the kybern CRD.
	Resource string
	// Namespaced is false for cluster-scoped kinds (Node).
	Namespaced bool
	// UpstreamGroup is the Kubernetes API group of the kind this one mirrors ("" for core).
	UpstreamGroup string
	// aliases are the singular name and short names, upstream's and kybern's.
	aliases []string
}

// The kybern kinds, each known by upstream's names as well as its own.
var (
	Pod = &Kind{GVK: corev1alpha1.GroupVersion.WithKind("Pod"), Resource: "pods", Namespaced: true,
		aliases: []string{"pod", "po", "kypo"}}
	Node = &Kind{GVK: corev1alpha1.GroupVersion.WithKind("Node"), Resource: "nodes",
		aliases: []string{"node", "no", "kyno"}}
	Service = &Kind{GVK: corev1alpha1.GroupVersion.WithKind("Service"), Resource: "services", Namespaced: true,
		aliases: []string{"service", "svc", "kysvc"}}
	EndpointSlice = &Kind{GVK: corev1alpha1.GroupVersion.WithKind("EndpointSlice"), Resource: "endpointslices", Namespaced: true,
		UpstreamGroup: "discovery.k8s.io", aliases: []string{"endpointslice", "kyeps"}}
	ReplicaSet = &Kind{GVK: appsv1alpha1.GroupVersion.WithKind("ReplicaSet"), Resource: "replicasets", Namespaced: true,
		UpstreamGroup: "apps", aliases: []string{"replicaset", "rs", "kyrs"}}
	Deployment = &Kind{GVK: appsv1alpha1.GroupVersion.WithKind("Deployment"), Resource: "deployments", Namespaced: true,
		UpstreamGroup: "apps", aliases: []string{"deployment", "deploy", "kydeploy"}}
	DaemonSet = &Kind{GVK: appsv1alpha1.GroupVersion.WithKind("DaemonSet"), Resource: "daemonsets", Namespaced: true,
		UpstreamGroup: "apps", aliases: []string{"daemonset", "ds", "kyds"}}
	StatefulSet = &Kind{GVK: appsv1alpha1.GroupVersion.WithKind("StatefulSet"), Resource: "statefulsets", Namespaced: true,
		UpstreamGroup: "apps", aliases: []string{"statefulset", "sts", "kysts"}}
	Job = &Kind{GVK: batchv1alpha1.GroupVersion.WithKind("Job"), Resource: "jobs", Namespaced: true,
		UpstreamGroup: "batch", aliases: []string{"job", "kyjob"}}
	CronJob = &Kind{GVK: batchv1alpha1.GroupVersion.WithKind("CronJob"), Resource: "cronjobs", Namespaced: true,
		UpstreamGroup: "batch", aliases: []string{"cronjob", "cj", "kycj"}}
	HorizontalPodAutoscaler = &Kind{GVK: autoscalingv1alpha1.GroupVersion.WithKind("HorizontalPodAutoscaler"), Resource: "horizontalpodautoscalers", Namespaced: true,
		UpstreamGroup: "autoscaling", aliases: []string{"horizontalpodautoscaler", "hpa", "kyhpa"}}
)

// Kinds lists every kybern kind.
var Kinds = []*Kind{Pod, Node, Service, EndpointSlice, ReplicaSet, Deployment, DaemonSet, StatefulSet, Job, CronJob, HorizontalPodAutoscaler}

// GVR is the kind's resource.
func (k *Kind) GVR() schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// GroupResource is the kind's resource and group, as the API server names it in errors:
// deployments.apps.kybern.io.
func (k *Kind) GroupResource() schema.GroupResource { return k.GVR().GroupResource() }

// Singular is the lower-case kind name: deployment.
func (k *Kind) Singular() string { return k.aliases[0] }

// ObjectName names an object of the kind in output, as kubectl's name printer does for the
// kind's upstream counterpart but with the kybern group: deployment.apps.kybern.io/web.
// The core.kybern.io group stands for upstream's core group, whose kinds kubectl prints
// without one, so its objects print as pod/web-1 and node/worker-1.
func (k *Kind) ObjectName(name string) string {
	if k.GVK.Group == corev1alpha1.GroupVersion.Group {
		return k.Singular() + "/" + name
	}
	return k.Singular() + "." + k.GVK.Group + "/" + name
}

// LookupKind resolves a resource type as users type it: singular, plural or short name,
// upstream's or kybern's (deployment, deployments, deploy, kydeploy), optionally qualified
// by kybern's group or upstream's, with or without a version (deployment.apps,
// deployments.apps.kybern.io, deployments.v1alpha1.apps.kybern.io, deployments.v1.apps).
func LookupKind(typ string) (*Kind, error) {
	name, qualifier, _ := strings.Cut(strings.ToLower(typ), ".")
	for _, k := range Kinds {
		if k.answersTo(name) && k.inGroup(qualifier) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", typ)
}

func (k *Kind) answersTo(name string) bool {
	if name == k.Resource {
		return true
	}
	for _, a := range k.aliases {
		if name == a {
			return true
		}
	}
	return false
}

// inGroup reports whether qualifier, the part of a resource type after its name, names the
// kind's kybern group or upstream's, optionally preceded by a version of that group.
func (k *Kind) inGroup(qualifier string) bool {
	switch qualifier {
	case "", k.GVK.Group, k.GVK.Version + "." + k.GVK.Group:
		return true
	}
	if k.UpstreamGroup == "" {
		return false
	}
	if qualifier == k.UpstreamGroup {
		return true
	}
	version, group, _ := strings.Cut(qualifier, ".")
	return group == k.UpstreamGroup && isVersion(version)
}

// isVersion reports whether s looks like an API version: v1, v2beta1, v1alpha1.
func isVersion(s string) bool {
	return len(s) >= 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9'
}
