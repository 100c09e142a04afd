package e2e

import (
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// controlPlaneDowntime is how long the control plane stays down: longer than two of the
// agents' lease renewals (10 s each), so that they see their requests fail.
const controlPlaneDowntime = 20 * time.Second

// podRecord is what must survive a control plane restart of one pod.
type podRecord struct {
	UID        types.UID
	Containers map[string]string
	Restarts   int32
}

// podRecords reads the pods of ns by name; every pod but the Job's must be Ready.
func podRecords(g Gomega, ns string) map[string]podRecord {
	var pods corev1alpha1.PodList
	g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns))).To(Succeed())
	out := map[string]podRecord{}
	for i := range pods.Items {
		p := &pods.Items[i]
		g.Expect(p.DeletionTimestamp).To(BeNil(), "pod %s is being deleted", p.Name)
		if p.Status.Phase != corev1.PodSucceeded {
			g.Expect(readyCondition(p)).To(Equal(corev1.ConditionTrue), "pod %s is not Ready", p.Name)
		}
		r := podRecord{UID: p.UID, Containers: map[string]string{}}
		for _, c := range p.Status.ContainerStatuses {
			g.Expect(c.ContainerID).NotTo(BeEmpty(), "container %s of pod %s has no ID", c.Name, p.Name)
			r.Containers[c.Name] = c.ContainerID
			r.Restarts += c.RestartCount
		}
		out[p.Name] = r
	}
	return out
}

// replicaSetNames are the names of the ReplicaSets in ns.
func replicaSetNames(g Gomega, ns string) []string {
	var list appsv1alpha1.ReplicaSetList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, rs := range list.Items {
		names = append(names, rs.Name)
	}
	slices.Sort(names)
	return names
}

// podChurnEvents are the controllers' SuccessfulCreate and SuccessfulDelete events in ns,
// by event name.
func podChurnEvents(g Gomega, ns string) map[string]corev1.Event {
	var list corev1.EventList
	g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]corev1.Event{}
	for _, e := range list.Items {
		if e.Reason == "SuccessfulCreate" || e.Reason == "SuccessfulDelete" {
			out[e.Name] = e
		}
	}
	return out
}

var _ = Describe("A control plane restart", Ordered, func() {
	const node = "e2e-a"
	var ns string
	BeforeAll(func() {
		startAgent(node)
		var err error
		ns, err = env.NewNamespace(ctx, "e2e-cp")
		Expect(err).NotTo(HaveOccurred())
	})

	It("keeps every object and running container, and the controllers resync without creating or deleting a pod", func() {
		web := func(name string) corev1.PodTemplateSpec {
			var t corev1.PodTemplateSpec
			t.Labels = map[string]string{"app": name}
			t.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
			t.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
			t.Spec.Containers = []corev1.Container{{Name: "web", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080"},
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, PeriodSeconds: 1}}}
			return t
		}
		d := &appsv1alpha1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		d.Spec.Replicas = ptr.To[int32](6)
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		d.Spec.Template = web("web")
		Expect(k8s.Create(ctx, d)).To(Succeed())
		set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}
		set.Spec.Replicas = ptr.To[int32](2)
		set.Spec.ServiceName = "db"
		set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
		set.Spec.Template = web("db")
		Expect(k8s.Create(ctx, set)).To(Succeed())
		svc := &corev1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		svc.Spec.Selector = map[string]string{"app": "web"}
		svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		job := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "done"}}
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		job.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
		job.Spec.Template.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}}
		Expect(k8s.Create(ctx, job)).To(Succeed())
		DeferCleanup(func() {
			for _, o := range []client.Object{d, set, job, svc} {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)))).To(Succeed())
			}
			deletePodsIn(ns)
		})

		By("waiting for 6 + 2 pods Ready and the Job complete")
		Eventually(jobOf(job), "90s").Should(trueJobCondition(batchv1.JobComplete, batchv1.JobReasonCompletionsReached))
		var before map[string]podRecord
		Eventually(func(g Gomega) {
			before = podRecords(g, ns)
			g.Expect(before).To(HaveLen(6 + 2 + 1))
			g.Expect(replicaSetNames(g, ns)).To(HaveLen(1))
		}, "120s").Should(Succeed())
		for name, r := range before {
			Expect(r.Restarts).To(BeZero(), "pod %s restarted before the control plane did", name)
		}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
		clusterIP := svc.Spec.ClusterIP
		Expect(clusterIP).NotTo(BeEmpty())
		owners := map[client.Object]types.UID{}
		for _, o := range []client.Object{d, set, job, svc} {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
			owners[o] = o.GetUID()
		}
		sets := replicaSetNames(Default, ns)
		churn := podChurnEvents(Default, ns)

		By("stopping the control plane for " + controlPlaneDowntime.String())
		var stopped, restarted time.Time
		stopping := time.Now()
		Expect(env.RestartControlPlane(func() {
			stopped = time.Now()
			// The agent keeps running and sees its requests fail meanwhile.
			time.Sleep(controlPlaneDowntime)
			restarted = time.Now()
		})).To(Succeed())
		served := time.Since(restarted)

		By("scaling the Deployment up at once: the controllers must resync to do it")
		Eventually(func() error {
			return k8s.Patch(ctx, d, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":7}}`)))
		}).Should(Succeed())
		By("waiting for the scale-up's pod, and for the node's first lease renewal after the restart with the node Ready")
		// Each is timed from the start of the control plane, as soon as it is seen.
		var reconciled, nodeReady time.Duration
		Eventually(func(g Gomega) {
			if reconciled == 0 {
				var pods corev1alpha1.PodList
				g.Expect(k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"})).To(Succeed())
				if len(pods.Items) == 7 {
					reconciled = time.Since(restarted)
				}
			}
			if nodeReady == 0 {
				lease := &coordinationv1.Lease{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: corev1alpha1.NodeLeaseNamespace, Name: node}, lease)).To(Succeed())
				if lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(restarted) && nodeCondition(node, corev1.NodeReady)(g) == corev1.ConditionTrue {
					nodeReady = time.Since(restarted)
				}
			}
			g.Expect(reconciled).NotTo(BeZero(), "the Deployment has not scaled up")
			g.Expect(nodeReady).NotTo(BeZero(), "the node has not renewed its lease and been Ready")
		}, "120s", "50ms").Should(Succeed())
		AddReportEntry("control plane restart", map[string]string{
			"apiserver and etcd stopping": stopped.Sub(stopping).String(), "downtime": controlPlaneDowntime.String(), "apiserver serving after start": served.String(),
			"node lease renewed and Ready": nodeReady.String(), "first reconcile (scale-up pod created)": reconciled.String()})

		By("finding every object, pod and container as before")
		for o, uid := range owners {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
			Expect(o.GetUID()).To(Equal(uid), "%s changed UID", o.GetName())
		}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).To(Equal(clusterIP))
		Expect(replicaSetNames(Default, ns)).To(Equal(sets), "a new ReplicaSet appeared")
		var scaled string
		Eventually(func(g Gomega) {
			after := podRecords(g, ns)
			g.Expect(after).To(HaveLen(len(before) + 1))
			for name, r := range before {
				g.Expect(after).To(HaveKeyWithValue(name, r), "pod %s changed across the restart", name)
			}
			for name := range after {
				if _, ok := before[name]; !ok {
					scaled = name
				}
			}
		}, "60s").Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
		Expect(job.Status.Succeeded).To(Equal(int32(1)))
		Expect(job.Status.Failed).To(BeZero())

		By("finding no pod created or deleted but the scale-up's")
		for name, e := range podChurnEvents(Default, ns) {
			if old, ok := churn[name]; ok && old.Count == e.Count {
				continue
			}
			Expect(e.Reason+": "+e.Message).To(Equal("SuccessfulCreate: Created pod: "+scaled), "event %s of %s %s is new", name, e.InvolvedObject.Kind, e.InvolvedObject.Name)
		}
	})
})
