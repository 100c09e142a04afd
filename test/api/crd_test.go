package api_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// upstreamShortNames are the short names built-in kinds own; ours must not take them.
var upstreamShortNames = []string{"po", "no", "svc", "ep", "rs", "deploy", "ds", "sts", "cj", "hpa", "cm", "ns", "pv", "pvc", "sa", "ing", "netpol", "pdb", "pc", "sc", "crd", "crds", "ev", "limits", "quota", "csr", "rc"}

var _ = Describe("The installed CRDs", func() {
	var crds map[string]apiextensionsv1.CustomResourceDefinition

	BeforeEach(func() {
		var list apiextensionsv1.CustomResourceDefinitionList
		Expect(k8sClient.List(ctx, &list, client.MatchingLabels{})).To(Succeed())
		crds = map[string]apiextensionsv1.CustomResourceDefinition{}
		for _, crd := range list.Items {
			crds[crd.Name] = crd
		}
	})

	It("serve every kind of the design, each Established", func() {
		want := map[string]apiextensionsv1.ResourceScope{
			"pods.core.kybern.io":                            apiextensionsv1.NamespaceScoped,
			"nodes.core.kybern.io":                           apiextensionsv1.ClusterScoped,
			"services.core.kybern.io":                        apiextensionsv1.NamespaceScoped,
			"endpointslices.core.kybern.io":                  apiextensionsv1.NamespaceScoped,
			"replicasets.apps.kybern.io":                     apiextensionsv1.NamespaceScoped,
			"deployments.apps.kybern.io":                     apiextensionsv1.NamespaceScoped,
			"daemonsets.apps.kybern.io":                      apiextensionsv1.NamespaceScoped,
			"statefulsets.apps.kybern.io":                    apiextensionsv1.NamespaceScoped,
			"jobs.batch.kybern.io":                           apiextensionsv1.NamespaceScoped,
			"cronjobs.batch.kybern.io":                       apiextensionsv1.NamespaceScoped,
			"horizontalpodautoscalers.autoscaling.kybern.io": apiextensionsv1.NamespaceScoped,
		}
		Expect(crds).To(HaveLen(len(want)))
		for name, scope := range want {
			Expect(crds).To(HaveKey(name))
			crd := crds[name]
			Expect(crd.Spec.Scope).To(Equal(scope), name)
			Expect(established(crd)).To(BeTrue(), "%s is not Established", name)
			Expect(crd.Spec.Names.Categories).To(ContainElement("kybern"), name)
			Expect(crd.Spec.Versions).To(HaveLen(1), name)
			Expect(crd.Spec.Versions[0].Name).To(Equal("v1alpha1"), name)
		}
	})

	It("use short names that no built-in kind owns, and each only once", func() {
		seen := map[string]string{}
		for name, crd := range crds {
			Expect(crd.Spec.Names.ShortNames).NotTo(BeEmpty(), name)
			for _, s := range crd.Spec.Names.ShortNames {
				Expect(upstreamShortNames).NotTo(ContainElement(s), "%s takes built-in short name %q", name, s)
				Expect(seen).NotTo(HaveKey(s), "%s and %s share short name %q", name, seen[s], s)
				seen[s] = name
			}
		}
	})

	It("give status a subresource, and scale to ReplicaSet, Deployment and StatefulSet", func() {
		scalable := map[string]bool{"replicasets.apps.kybern.io": true, "deployments.apps.kybern.io": true, "statefulsets.apps.kybern.io": true}
		for name, crd := range crds {
			sub := crd.Spec.Versions[0].Subresources
			if name == "endpointslices.core.kybern.io" {
				Expect(sub == nil || sub.Status == nil).To(BeTrue(), "EndpointSlice has no status, as upstream")
				continue
			}
			Expect(sub).NotTo(BeNil(), name)
			Expect(sub.Status).NotTo(BeNil(), name)
			if scalable[name] {
				Expect(sub.Scale).NotTo(BeNil(), name)
				Expect(sub.Scale.SpecReplicasPath).To(Equal(".spec.replicas"))
				Expect(sub.Scale.StatusReplicasPath).To(Equal(".status.replicas"))
				Expect(sub.Scale.LabelSelectorPath).To(HaveValue(Equal(".status.labelSelector")))
			} else {
				Expect(sub.Scale).To(BeNil(), name)
			}
		}
	})

	It("make spec.nodeName a selectable field of Pod", func() {
		fields := crds["pods.core.kybern.io"].Spec.Versions[0].SelectableFields
		Expect(fields).To(ContainElement(apiextensionsv1.SelectableField{JSONPath: ".spec.nodeName"}))
	})
})

func established(crd apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
