package nodeauthorizer

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

const (
	// GrantLabel marks the Roles and RoleBindings this controller owns.
	GrantLabel = "kybern.io/node-grant"
	// NodeAnnotation names the node a grant is for: node names may be longer than a label
	// value may be.
	NodeAnnotation = "kybern.io/node"
)

// grant is what one node may read in one namespace, each list sorted and without repeats.
type grant struct {
	secrets, configMaps, claims, serviceAccounts []string
}

// grants are the objects that pods, all bound to one node, use, by namespace: the
// Secrets and ConfigMaps upstream's visitors find (volumes, projections, env, envFrom,
// image pull secrets), the claims of their persistentVolumeClaim volumes, and the service
// accounts of the pods that project a token.
func grants(pods []*corev1alpha1.Pod) map[string]grant {
	sets := map[string]*[4]map[string]bool{}
	for _, p := range pods {
		s := sets[p.Namespace]
		if s == nil {
			s = &[4]map[string]bool{{}, {}, {}, {}}
			sets[p.Namespace] = s
		}
		core := &corev1.Pod{Spec: p.Spec}
		podutil.VisitPodSecretNames(core, func(name string) bool { s[0][name] = true; return true })
		podutil.VisitPodConfigmapNames(core, func(name string) bool { s[1][name] = true; return true })
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != "" {
				s[2][v.PersistentVolumeClaim.ClaimName] = true
			}
		}
		if projectsToken(&p.Spec) {
			s[3][cmp.Or(p.Spec.ServiceAccountName, corev1alpha1.DefaultServiceAccountName)] = true
		}
	}
	out := make(map[string]grant, len(sets))
	for ns, s := range sets {
		out[ns] = grant{secrets: sorted(s[0]), configMaps: sorted(s[1]), claims: sorted(s[2]), serviceAccounts: sorted(s[3])}
	}
	return out
}

// projectsToken says whether a volume of spec projects a service account token, which the
// node agent requests for the pod's account.
func projectsToken(spec *corev1.PodSpec) bool {
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return true
			}
		}
	}
	return false
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// rules are the Role rules of g: get, and list and watch selecting it by name (the
// agent's watch of a projected object), for each Secret and ConfigMap, get and patch for
// each claim and patch for its status, create of each service account's tokens, every
// one by name. A kind g names nothing of gets
// no rule, as a rule without resourceNames would grant every object of the kind.
func (g grant) rules() []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	add := func(resource string, names []string, verbs ...string) {
		if len(names) > 0 {
			rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{resource}, ResourceNames: names, Verbs: verbs})
		}
	}
	add("secrets", g.secrets, "get", "list", "watch")
	add("configmaps", g.configMaps, "get", "list", "watch")
	add("persistentvolumeclaims", g.claims, "get", "patch")
	add("persistentvolumeclaims/status", g.claims, "patch")
	add("serviceaccounts/token", g.serviceAccounts, "create")
	return rules
}

// objectMeta is the metadata of node's grant in namespace ns.
func objectMeta(node, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: corev1alpha1.NodeUser(node),
		Labels: map[string]string{GrantLabel: "true"}, Annotations: map[string]string{NodeAnnotation: node}}
}

// role is node's Role in namespace ns for g.
func role(node, ns string, g grant) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: objectMeta(node, ns), Rules: g.rules()}
}

// binding binds node's Role in namespace ns to the node's identity.
func binding(node, ns string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: objectMeta(node, ns),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: corev1alpha1.NodeUser(node)},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: corev1alpha1.NodeUser(node)}}}
}
