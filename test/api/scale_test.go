package api_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

var _ = Describe("kubectl scale", func() {
	DescribeTable("sets spec.replicas through the scale subresource",
		func(sample, resource string, obj client.Object, replicas func(client.Object) int32) {
			ns := newNamespace()
			fromSample(sample, obj, ns)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())

			out := run("scale", "-n", ns, resource+"/"+obj.GetName(), "--replicas=7")
			Expect(out).To(ContainSubstring("scaled"))
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			Expect(replicas(obj)).To(Equal(int32(7)))

			scale := &autoscalingv1.Scale{}
			Expect(k8sClient.SubResource("scale").Get(ctx, obj, scale)).To(Succeed())
			Expect(scale.Spec.Replicas).To(Equal(int32(7)))

			out, err := tryRun("scale", "-n", ns, resource+"/"+obj.GetName(), "--current-replicas=3", "--replicas=1")
			Expect(err).To(HaveOccurred(), "a stale --current-replicas must not scale")
			Expect(strings.ToLower(out)).To(ContainSubstring("expected"))
		},
		Entry("ReplicaSet (short name kyrs)", "apps_v1alpha1_replicaset.yaml", "kyrs", &appsv1alpha1.ReplicaSet{},
			func(o client.Object) int32 { return *o.(*appsv1alpha1.ReplicaSet).Spec.Replicas }),
		Entry("Deployment (short name kydeploy)", "apps_v1alpha1_deployment.yaml", "kydeploy", &appsv1alpha1.Deployment{},
			func(o client.Object) int32 { return *o.(*appsv1alpha1.Deployment).Spec.Replicas }),
		Entry("StatefulSet (short name kysts)", "apps_v1alpha1_statefulset.yaml", "kysts", &appsv1alpha1.StatefulSet{},
			func(o client.Object) int32 { return *o.(*appsv1alpha1.StatefulSet).Spec.Replicas }),
	)
})
