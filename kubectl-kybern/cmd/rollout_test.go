package cmd_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

const (
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	changeCauseAnnotation = "kubernetes.io/change-cause"
)

func newDeployment(ns, image string) *appsv1alpha1.Deployment {
	d := &appsv1alpha1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: map[string]string{revisionAnnotation: "2", changeCauseAnnotation: "to v2"}},
		Spec: appsv1alpha1.DeploymentSpec{DeploymentSpec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels("web")},
			Template: template("web", image),
		}},
	}
	ExpectWithOffset(1, k8s.Create(ctx, d)).To(Succeed())
	return d
}

// recordReplicaSet creates the ReplicaSet the Deployment controller keeps for d's
// revision n, running image.
func recordReplicaSet(d *appsv1alpha1.Deployment, n, hash, image, cause string) {
	t := template("web", image)
	t.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1alpha1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace, Name: "web-" + hash, Labels: t.Labels,
			Annotations:     map[string]string{revisionAnnotation: n, changeCauseAnnotation: cause, "team": "shop"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1alpha1.GroupVersion.WithKind("Deployment"))},
		},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: t.Labels}, Template: t},
	}
	ExpectWithOffset(1, k8s.Create(ctx, rs)).To(Succeed())
}

// setImage updates obj, whose pod template is t, to run image, and reads back the template
// as the apiserver stored it, with the CRD's defaults.
func setImage(obj client.Object, t *corev1.PodTemplateSpec, image string) {
	t.Spec.Containers[0].Image = image
	ExpectWithOffset(1, k8s.Update(ctx, obj)).To(Succeed())
}

// recordRevision creates the ControllerRevision the StatefulSet and DaemonSet controllers
// keep for owner's revision n, whose template is t as the apiserver stored it: a patch
// that puts the template back.
func recordRevision(owner client.Object, gvk string, n int64, t corev1.PodTemplateSpec) {
	raw, err := json.Marshal(t)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var m map[string]any
	ExpectWithOffset(1, json.Unmarshal(raw, &m)).To(Succeed())
	m["$patch"] = "replace"
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: owner.GetNamespace(), Name: fmt.Sprintf("%s-%d", owner.GetName(), n),
			Labels:          t.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1alpha1.GroupVersion.WithKind(gvk))},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: n,
	}
	ExpectWithOffset(1, k8s.Create(ctx, cr)).To(Succeed())
}

func get[T client.Object](obj T) T {
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

var _ = Describe("rollout of a Deployment", func() {
	var ns string
	var d *appsv1alpha1.Deployment

	BeforeEach(func() {
		ns = newNamespace()
		d = newDeployment(ns, "web:2")
		recordReplicaSet(d, "1", "aaa", "web:1", "to v1")
		recordReplicaSet(d, "2", "bbb", "web:2", "to v2")
	})

	It("lists the history of its ReplicaSets and shows a revision's template", func() {
		Expect(kybern("-n", ns, "rollout", "history", "deployment/web")).To(Equal(result{Out: "deployment.apps.kybern.io/web \n" +
			"REVISION  CHANGE-CAUSE\n" +
			"1         to v1\n" +
			"2         to v2\n\n"}))

		r := kybern("-n", ns, "rollout", "history", "deploy", "web", "--revision=1")
		Expect(r.Code).To(BeZero())
		Expect(r.Out).To(HavePrefix("deployment.apps.kybern.io/web with revision #1\nPod Template:\n"))
		Expect(r.Out).To(MatchRegexp(`Image:\s+web:1`))

		Expect(kybern("-n", ns, "rollout", "history", "kydeploy/web", "--revision=7")).To(Equal(result{Err: "error: unable to find the specified revision\n", Code: 1}))
		Expect(kybern("-n", ns, "rollout", "history", "deployment/web", "-o", "name")).To(Equal(result{
			Out: "replicaset.apps.kybern.io/web-aaa\nreplicaset.apps.kybern.io/web-bbb\n"}))
	})

	It("pauses, refuses to roll back or restart while paused, resumes, rolls back and restarts", func() {
		Expect(kybern("-n", ns, "rollout", "pause", "deployment/web")).To(Equal(result{Out: "deployment.apps.kybern.io/web paused\n"}))
		Expect(get(d).Spec.Paused).To(BeTrue())
		Expect(kybern("-n", ns, "rollout", "pause", "deployment/web")).To(Equal(result{
			Err: `error: deployments.apps.kybern.io "web" is already paused` + "\n", Code: 1}))
		Expect(kybern("-n", ns, "rollout", "undo", "deployment/web")).To(Equal(result{
			Err: "error: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again\n", Code: 1}))
		Expect(kybern("-n", ns, "rollout", "restart", "deployment/web")).To(Equal(result{
			Err: `error: deployments.apps.kybern.io "web" can't restart paused deployment (run rollout resume first)` + "\n", Code: 1}))

		Expect(kybern("-n", ns, "rollout", "resume", "deployment.apps.kybern.io/web")).To(Equal(result{Out: "deployment.apps.kybern.io/web resumed\n"}))
		Expect(get(d).Spec.Paused).To(BeFalse())
		Expect(kybern("-n", ns, "rollout", "resume", "deployments/web")).To(Equal(result{
			Err: `error: deployments.apps.kybern.io "web" is not paused` + "\n", Code: 1}))

		Expect(kybern("-n", ns, "rollout", "undo", "deployment/web")).To(Equal(result{Out: "deployment.apps.kybern.io/web rolled back\n"}))
		get(d)
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal("web:1"))
		Expect(d.Spec.Template.Labels).To(Equal(labels("web")), "the pod-template-hash label stays on the ReplicaSet")
		Expect(d.Annotations).To(Equal(map[string]string{revisionAnnotation: "2", changeCauseAnnotation: "to v1", "team": "shop"}))
		Expect(kybern("-n", ns, "rollout", "undo", "deployment/web", "--to-revision=1")).To(Equal(result{
			Out: "deployment.apps.kybern.io/web skipped rollback (current template already matches revision 1)\n"}))
		Expect(kybern("-n", ns, "rollout", "undo", "deployment/web", "--to-revision=5")).To(Equal(result{
			Err: "error: unable to find specified revision 5 in history\n", Code: 1}))

		Expect(kybern("-n", ns, "rollout", "restart", "deployment/web")).To(Equal(result{Out: "deployment.apps.kybern.io/web restarted\n"}))
		restartedAt := get(d).Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
		Expect(time.Parse(time.RFC3339, restartedAt)).To(BeTemporally("~", time.Now(), time.Minute))
	})

	It("restarts every deployment the selector picks, and reports a missing one", func() {
		r := kybern("-n", ns, "rollout", "restart", "deployment", "-l", "app=none")
		Expect(r).To(Equal(result{Err: "No resources found in " + ns + " namespace.\n"}))
		Expect(kybern("-n", ns, "rollout", "restart", "deploy", "web", "gone")).To(Equal(result{
			Out: "deployment.apps.kybern.io/web restarted\n",
			Err: `Error from server (NotFound): deployments.apps.kybern.io "gone" not found` + "\n", Code: 1}))
	})
})

var _ = Describe("rollout of a StatefulSet and a DaemonSet", func() {
	var ns string

	BeforeEach(func() { ns = newNamespace() })

	It("lists a StatefulSet's ControllerRevisions, rolls back to one, restarts it and refuses to pause it", func() {
		sts := &appsv1alpha1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
			Spec:       appsv1alpha1.StatefulSetSpec{StatefulSetSpec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels("db")}, Template: template("db", "db:1")}},
		}
		Expect(k8s.Create(ctx, sts)).To(Succeed())
		recordRevision(sts, "StatefulSet", 1, sts.Spec.Template)
		setImage(sts, &sts.Spec.Template, "db:2")
		recordRevision(sts, "StatefulSet", 2, sts.Spec.Template)

		Expect(kybern("-n", ns, "rollout", "history", "sts/db")).To(Equal(result{Out: "statefulset.apps.kybern.io/db \n" +
			"REVISION  CHANGE-CAUSE\n" +
			"1         <none>\n" +
			"2         <none>\n\n"}))
		Expect(kybern("-n", ns, "rollout", "undo", "statefulset/db")).To(Equal(result{Out: "statefulset.apps.kybern.io/db rolled back\n"}))
		Expect(get(sts).Spec.Template.Spec.Containers[0].Image).To(Equal("db:1"))
		Expect(kybern("-n", ns, "rollout", "undo", "kysts/db", "--to-revision=1")).To(Equal(result{
			Out: "statefulset.apps.kybern.io/db skipped rollback (current template already matches revision 1)\n"}))

		Expect(kybern("-n", ns, "rollout", "restart", "sts/db")).To(Equal(result{Out: "statefulset.apps.kybern.io/db restarted\n"}))
		Expect(get(sts).Spec.Template.Annotations).To(HaveKey("kubectl.kubernetes.io/restartedAt"))
		Expect(kybern("-n", ns, "rollout", "pause", "sts/db")).To(Equal(result{
			Err: `error: statefulsets.apps.kybern.io "db" pausing is not supported` + "\n", Code: 1}))

		sts.Status.ObservedGeneration = sts.Generation
		sts.Status.ReadyReplicas, sts.Status.UpdatedReplicas, sts.Status.Replicas = 1, 1, 1
		Expect(k8s.Status().Update(ctx, sts)).To(Succeed())
		Expect(kybern("-n", ns, "rollout", "status", "statefulset/db")).To(Equal(result{Out: "partitioned roll out complete: 1 new pods have been updated...\n"}))
	})

	It("rolls a DaemonSet back to a given revision and reports its status", func() {
		ds := &appsv1alpha1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
			Spec:       appsv1alpha1.DaemonSetSpec{DaemonSetSpec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels("agent")}, Template: template("agent", "agent:1")}},
		}
		Expect(k8s.Create(ctx, ds)).To(Succeed())
		recordRevision(ds, "DaemonSet", 1, ds.Spec.Template)
		for n := int64(2); n <= 3; n++ {
			setImage(ds, &ds.Spec.Template, fmt.Sprintf("agent:%d", n))
			recordRevision(ds, "DaemonSet", n, ds.Spec.Template)
		}
		Expect(kybern("-n", ns, "rollout", "undo", "ds/agent", "--to-revision=1")).To(Equal(result{Out: "daemonset.apps.kybern.io/agent rolled back\n"}))
		Expect(get(ds).Spec.Template.Spec.Containers[0].Image).To(Equal("agent:1"))

		ds.Status.DaemonSetStatus = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 1}
		Expect(k8s.Status().Update(ctx, ds)).To(Succeed())
		Expect(kybern("-n", ns, "rollout", "status", "daemonset/agent", "--watch=false")).To(Equal(result{
			Out: `Waiting for daemon set "agent" rollout to finish: 1 of 2 updated pods are available...` + "\n"}))
	})
})

var _ = Describe("rollout status of a Deployment", func() {
	var ns string
	var d *appsv1alpha1.Deployment

	BeforeEach(func() {
		ns = newNamespace()
		d = newDeployment(ns, "web:2")
	})

	setStatus := func(status appsv1.DeploymentStatus) {
		GinkgoHelper()
		get(d)
		status.ObservedGeneration = d.Generation
		d.Status.DeploymentStatus = status
		Expect(k8s.Status().Update(ctx, d)).To(Succeed())
	}

	It("watches the rollout until it is done", func() {
		out, errOut := gbytes.NewBuffer(), gbytes.NewBuffer()
		code := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			code <- run(ctx, out, errOut, "-n", ns, "rollout", "status", "deployment/web", "--timeout=2m")
		}()
		Eventually(out).Should(gbytes.Say(regexp.QuoteMeta("Waiting for deployment spec update to be observed...\n")))

		setStatus(appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1})
		Eventually(out).Should(gbytes.Say(regexp.QuoteMeta(`Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...`)))
		Consistently(code, "200ms").ShouldNot(Receive(), "the rollout is not done yet")

		setStatus(appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3})
		Eventually(out).Should(gbytes.Say(regexp.QuoteMeta(`deployment "web" successfully rolled out` + "\n")))
		Eventually(code).Should(Receive(BeZero()))
		Expect(errOut.Contents()).To(BeEmpty())
	})

	It("fails once the rollout exceeded its progress deadline", func() {
		setStatus(appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: `ReplicaSet "web-bbb" has timed out progressing.`, LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}})
		Expect(kybern("-n", ns, "rollout", "status", "deployment/web")).To(Equal(result{
			Err: `error: deployment "web" exceeded its progress deadline` + "\n", Code: 1}))
	})

	It("reports once without --watch, and gives up at --timeout", func() {
		setStatus(appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2})
		Expect(kybern("-n", ns, "rollout", "status", "deployment/web", "--watch=false")).To(Equal(result{
			Out: `Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...` + "\n"}))
		Expect(kybern("-n", ns, "rollout", "status", "deployment/web", "--timeout=1s")).To(Equal(result{
			Out: `Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...` + "\n",
			Err: "error: timed out waiting for the condition\n", Code: 1}))
	})
})
