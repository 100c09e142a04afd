package cronjob_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	"github.com/kybern/kybern/controllers/cronjob"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// harness drives a Reconciler of its own with a fake clock against the apiserver, with
// the suite's manager stopped, so that each step is one reconcile at a chosen time.
type harness struct {
	cj       *batchv1alpha1.CronJob
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	r        *cronjob.Reconciler
	// first is the first schedule time of "*/1 * * * *" after the CronJob's creation.
	first time.Time
}

// start creates cj and a Reconciler whose clock reads its first minute boundary + 10s.
func start(cj *batchv1alpha1.CronJob) *harness {
	ExpectWithOffset(1, k8s.Create(ctx, cj)).To(Succeed())
	first := cj.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	h := &harness{cj: cj, first: first, clock: clocktesting.NewFakeClock(first.Add(10 * time.Second)),
		recorder: record.NewFakeRecorder(1000)}
	h.r = &cronjob.Reconciler{Client: k8s, APIReader: k8s, Recorder: h.recorder, Clock: h.clock}
	return h
}

// reconcileAt sets the clock to h.first + d and reconciles once.
func (h *harness) reconcileAt(d time.Duration) ctrl.Result {
	h.clock.SetTime(h.first.Add(d))
	res, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(h.cj)})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return res
}

// job is the name of the Job for the schedule time h.first + d.
func (h *harness) job(d time.Duration) string {
	return fmt.Sprintf("report-%d", h.first.Add(d).Unix()/60)
}

// events drains the events recorded so far, as "Type Reason Message".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// reasons is the reason of each event, in order.
func reasons(events []string) []string {
	var out []string
	for _, e := range events {
		out = append(out, strings.Fields(e)[1])
	}
	return out
}

func (h *harness) update(mutate func(*batchv1alpha1.CronJob)) {
	got := &batchv1alpha1.CronJob{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(h.cj), got)).To(Succeed())
	mutate(got)
	ExpectWithOffset(1, k8s.Update(ctx, got)).To(Succeed())
}

// Ordered: the manager spec runs before the fake-clock specs stop the manager.
var _ = Describe("The CronJob controller", Ordered, ContinueOnFailure, func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	Context("in the manager, with the real clock", func() {
		It("starts the Job for the latest missed time at once and lists it as active", func() {
			cj := newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent)
			Expect(k8s.Create(ctx, cj)).To(Succeed())
			// Pretend the last run was five minutes ago, so a run is due without waiting for
			// the next minute.
			last := metav1.NewTime(time.Now().Add(-5 * time.Minute).Truncate(time.Minute))
			Eventually(func(g Gomega) {
				got := &batchv1alpha1.CronJob{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cj), got)).To(Succeed())
				got.Status.LastScheduleTime = &last
				g.Expect(k8s.Status().Update(ctx, got)).To(Succeed())
			}).Should(Succeed())

			Eventually(func(g Gomega) {
				st := &batchv1alpha1.CronJob{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cj), st)).To(Succeed())
				g.Expect(st.Status.Active).To(HaveLen(1))
				g.Expect(st.Status.LastScheduleTime.Time).To(BeTemporally(">", last.Time))
				j := &batchv1alpha1.Job{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: st.Status.Active[0].Name}, j)).To(Succeed())
				g.Expect(j.Name).To(Equal(fmt.Sprintf("report-%d", st.Status.LastScheduleTime.Unix()/60)))
				g.Expect(metav1.GetControllerOf(j).UID).To(Equal(st.UID))
				g.Expect(j.Labels).To(HaveKeyWithValue("app", "report"))
				g.Expect(j.Annotations).To(HaveKeyWithValue("owner", "ops"))
				g.Expect(j.Annotations).To(HaveKeyWithValue(batchv1.CronJobScheduledTimestampAnnotation,
					st.Status.LastScheduleTime.UTC().Format(time.RFC3339)))
			}).Should(Succeed())
		})
	})

	Context("with a fake clock", func() {
		BeforeAll(func() {
			// The manager's own CronJob controller would act on these CronJobs by the real
			// clock; stop it so that only each spec's Reconciler does.
			Expect(suite.Manager.Stop()).To(Succeed())
			suite.Manager = nil
		})

		It("with Allow, starts one Job per schedule time and keeps the earlier ones running", func() {
			h := start(newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent))
			res := h.reconcileAt(10 * time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0)))
			Expect(res.RequeueAfter).To(Equal(50*time.Second + 100*time.Millisecond))
			Expect(reasons(h.events())).To(Equal([]string{"SuccessfulCreate"}))

			Expect(h.reconcileAt(20 * time.Second).RequeueAfter).To(Equal(40*time.Second + 100*time.Millisecond))
			Expect(jobNames(h.cj)).To(HaveLen(1), "the same schedule time runs once")

			h.reconcileAt(time.Minute + time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0), h.job(time.Minute)))
			Expect(activeNames(h.cj)).To(ConsistOf(h.job(0), h.job(time.Minute)))

			// Three times pass unmet (2, 3 and 4 minutes): as upstream, only the latest runs.
			h.reconcileAt(4*time.Minute + 5*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0), h.job(time.Minute), h.job(4*time.Minute)))
			st := statusOf(h.cj)
			Expect(st.Active).To(HaveLen(3))
			Expect(st.LastScheduleTime.Time).To(BeTemporally("==", h.first.Add(4*time.Minute)))
		})

		It("with Forbid, skips while a Job is active and runs the skipped time once it finishes", func() {
			h := start(newCronJob(ns, "*/1 * * * *", batchv1.ForbidConcurrent))
			h.reconcileAt(10 * time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0)))
			h.events()

			res := h.reconcileAt(time.Minute + 10*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0)))
			Expect(reasons(h.events())).To(Equal([]string{"JobAlreadyActive"}))
			Expect(res.RequeueAfter).To(Equal(50*time.Second + 100*time.Millisecond))

			finish(ns, h.job(0), batchv1.JobComplete, h.first)
			h.reconcileAt(time.Minute + 20*time.Second)
			Expect(reasons(h.events())).To(Equal([]string{"SawCompletedJob", "SuccessfulCreate"}))
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(0), h.job(time.Minute)))
			st := statusOf(h.cj)
			Expect(st.Active).To(HaveLen(1))
			Expect(st.Active[0].Name).To(Equal(h.job(time.Minute)))
			Expect(st.LastSuccessfulTime.Time).To(BeTemporally("==", h.first.Add(time.Minute)))
		})

		It("with Replace, deletes the active Job before starting the next", func() {
			h := start(newCronJob(ns, "*/1 * * * *", batchv1.ReplaceConcurrent))
			h.reconcileAt(10 * time.Second)
			h.reconcileAt(time.Minute + 10*time.Second)
			Expect(reasons(h.events())).To(Equal([]string{"SuccessfulCreate", "SuccessfulDelete", "SuccessfulCreate"}))
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(time.Minute)))
			Expect(activeNames(h.cj)).To(ConsistOf(h.job(time.Minute)))
		})

		It("drops a deleted Job from status.active and reports a Job it did not start", func() {
			h := start(newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent))
			h.reconcileAt(10 * time.Second)
			Expect(k8s.Delete(ctx, &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: h.job(0)}})).To(Succeed())
			stray := &batchv1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stray"}}
			stray.Spec = h.cj.Spec.JobTemplate.Spec
			Expect(ctrl.SetControllerReference(h.cj, stray, k8s.Scheme())).To(Succeed())
			Expect(k8s.Create(ctx, stray)).To(Succeed())
			h.events()

			h.reconcileAt(20 * time.Second)
			Expect(reasons(h.events())).To(ConsistOf("MissingJob", "UnexpectedJob"))
			Expect(statusOf(h.cj).Active).To(BeEmpty())
		})

		It("starts no Job while suspended, and the latest due one once resumed", func() {
			cj := newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent)
			cj.Spec.Suspend = ptr.To(true)
			h := start(cj)
			Expect(h.reconcileAt(3*time.Minute + 10*time.Second)).To(Equal(ctrl.Result{}))
			Expect(jobNames(h.cj)).To(BeEmpty())

			h.update(func(cj *batchv1alpha1.CronJob) { cj.Spec.Suspend = ptr.To(false) })
			h.reconcileAt(3*time.Minute + 20*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(3 * time.Minute)))
		})

		It("deletes the oldest finished Jobs beyond the history limits", func() {
			cj := newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent)
			cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
			cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
			h := start(cj)
			for i := range 4 {
				h.reconcileAt(time.Duration(i)*time.Minute + 10*time.Second)
			}
			Expect(jobNames(h.cj)).To(HaveLen(4))
			finish(ns, h.job(0), batchv1.JobComplete, h.first)
			finish(ns, h.job(time.Minute), batchv1.JobComplete, h.first.Add(time.Minute))
			finish(ns, h.job(2*time.Minute), batchv1.JobFailed, h.first.Add(2*time.Minute))
			finish(ns, h.job(3*time.Minute), batchv1.JobFailed, h.first.Add(3*time.Minute))
			h.events()

			h.reconcileAt(3*time.Minute + 20*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(time.Minute), h.job(3*time.Minute)))
			Expect(reasons(h.events())).To(ConsistOf("SuccessfulDelete", "SuccessfulDelete", "SawCompletedJob", "SawCompletedJob"))
			Expect(statusOf(h.cj).Active).To(BeEmpty())
		})

		It("skips a time missed by more than spec.startingDeadlineSeconds", func() {
			cj := newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent)
			cj.Spec.StartingDeadlineSeconds = ptr.To[int64](30)
			h := start(cj)
			// The 0, 1 and 2 minute times have passed; the latest is 40s late.
			res := h.reconcileAt(2*time.Minute + 40*time.Second)
			Expect(jobNames(h.cj)).To(BeEmpty())
			Expect(res.RequeueAfter).To(Equal(20*time.Second + 100*time.Millisecond))

			h.reconcileAt(3*time.Minute + 5*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(3 * time.Minute)))
		})

		It("with more than 100 missed times, warns and starts only the latest", func() {
			h := start(newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent))
			h.reconcileAt(150*time.Minute + 10*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(150 * time.Minute)))
			Expect(reasons(h.events())).To(Equal([]string{"TooManyMissedTimes", "SuccessfulCreate"}))
		})

		It("reads the schedule in spec.timeZone and stamps the Job with the time there", func() {
			kolkata, err := time.LoadLocation("Asia/Kolkata")
			Expect(err).NotTo(HaveOccurred())
			// A daily time about two hours after creation, as Kolkata's wall clock (UTC+5:30).
			due := time.Now().Truncate(time.Minute).Add(2 * time.Hour).In(kolkata)
			cj := newCronJob(ns, fmt.Sprintf("%d %d * * *", due.Minute(), due.Hour()), batchv1.AllowConcurrent)
			cj.Spec.TimeZone = ptr.To("Asia/Kolkata")
			h := start(cj)
			h.reconcileAt(due.Sub(h.first) - time.Second)
			Expect(jobNames(h.cj)).To(BeEmpty())
			h.reconcileAt(due.Sub(h.first) + 10*time.Second)
			Expect(jobNames(h.cj)).To(ConsistOf(h.job(due.Sub(h.first))))
			j := jobsOf(h.cj)[0]
			Expect(j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]).To(Equal(due.Format(time.RFC3339)))
			Expect(j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]).To(HaveSuffix("+05:30"))
		})

		It("starts no Job for an unknown time zone or a TZ= schedule, and says why", func() {
			cj := newCronJob(ns, "*/1 * * * *", batchv1.AllowConcurrent)
			cj.Spec.TimeZone = ptr.To("Mars/Olympus")
			h := start(cj)
			Expect(h.reconcileAt(time.Minute)).To(Equal(ctrl.Result{}))
			Expect(h.events()).To(ConsistOf(And(HavePrefix("Warning "+specvalidation.ReasonInvalidSpec), ContainSubstring("spec.timeZone"), ContainSubstring("unknown time zone Mars/Olympus"))))

			h.update(func(cj *batchv1alpha1.CronJob) {
				cj.Spec.TimeZone = nil
				cj.Spec.Schedule = "TZ=Etc/UTC */1 * * * *"
			})
			Expect(h.reconcileAt(time.Minute)).To(Equal(ctrl.Result{}))
			Expect(h.events()).To(ConsistOf(And(HavePrefix("Warning "+specvalidation.ReasonInvalidSpec), ContainSubstring("spec.schedule"), ContainSubstring("TZ"))))
			Expect(jobNames(h.cj)).To(BeEmpty())
		})
	})
})
