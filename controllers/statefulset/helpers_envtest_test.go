package statefulset_test

import (
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

func newSet(ns, name string, replicas int32) *appsv1alpha1.StatefulSet {
	set := &appsv1alpha1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	set.Spec.Replicas = ptr.To(replicas)
	set.Spec.ServiceName = name
	set.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	set.Spec.Template.Labels = map[string]string{"app": name}
	set.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	return set
}

// withClaims gives set the volumeClaimTemplate data and a template volume of that name,
// which the claim replaces.
func withClaims(set *appsv1alpha1.StatefulSet, whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType) {
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}}
	set.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: whenDeleted, WhenScaled: whenScaled}
}

// pods are the pods of ns by name.
func pods(ns string) map[string]corev1alpha1.Pod {
	var list corev1alpha1.PodList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]corev1alpha1.Pod{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

func podNames(ns string) []string {
	var names []string
	for n := range pods(ns) {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func claimNames(ns string) []string {
	var list corev1.PersistentVolumeClaimList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, c := range list.Items {
		if c.DeletionTimestamp == nil {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

// imageOf is the image of the first container of pod name in ns, "" when there is no pod.
func imageOf(ns, name string) string {
	p, ok := pods(ns)[name]
	if !ok {
		return ""
	}
	return p.Spec.Containers[0].Image
}

// releaseDeletedClaims plays upstream's pvc-protection controller, which envtest lacks:
// it removes the finalizer of every claim of ns being deleted, so that it goes.
func releaseDeletedClaims(ns string) {
	EventuallyWithOffset(1, func(g Gomega) {
		var list corev1.PersistentVolumeClaimList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		for i := range list.Items {
			c := &list.Items[i]
			if c.DeletionTimestamp == nil {
				continue
			}
			orig := c.DeepCopy()
			c.Finalizers = nil
			g.Expect(client.IgnoreNotFound(k8s.Patch(ctx, c, client.MergeFrom(orig)))).To(Succeed())
		}
	}).Should(Succeed())
}

func getSet(set *appsv1alpha1.StatefulSet) *appsv1alpha1.StatefulSet {
	out := &appsv1alpha1.StatefulSet{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(set), out)).To(Succeed())
	return out
}

// change applies mutate to a fresh copy of set, retrying conflicts.
func change(set *appsv1alpha1.StatefulSet, mutate func(*appsv1alpha1.StatefulSet)) {
	EventuallyWithOffset(1, func() error {
		s := getSet(set)
		mutate(s)
		return k8s.Update(ctx, s)
	}).Should(Succeed())
}

func image(image string) func(*appsv1alpha1.StatefulSet) {
	return func(s *appsv1alpha1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = image }
}

// allReadyOn reports whether ns runs exactly the pods names, every one Running on img.
func allReadyOn(ns string, img string, names ...string) func(Gomega) {
	return func(g Gomega) {
		ps := pods(ns)
		g.Expect(ps).To(HaveLen(len(names)))
		for _, n := range names {
			p, ok := ps[n]
			g.Expect(ok).To(BeTrue(), n)
			g.Expect(p.Spec.Containers[0].Image).To(Equal(img), n)
			g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning), n)
			g.Expect(p.DeletionTimestamp).To(BeNil(), n)
		}
	}
}

func hasEvent(ns, reason string) func() bool {
	return func() bool {
		var list corev1.EventList
		ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		return slices.ContainsFunc(list.Items, func(e corev1.Event) bool { return e.Reason == reason })
	}
}

// recorder records every deletion of a pod of a namespace in the order the apiserver
// made them (from a watch: two pods gone between two reads have no order), and samples
// the pods every few milliseconds for the most pods of want missing at once.
type recorder struct {
	mu         sync.Mutex
	deleted    []string
	maxMissing int
	stop, done chan struct{}
	once       sync.Once
	watch      watch.Interface
	watched    chan struct{}
}

func record(ns string, want ...string) *recorder {
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: k8s.Scheme()})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	w, err := watcher.Watch(ctx, &corev1alpha1.PodList{}, client.InNamespace(ns))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	r := &recorder{stop: make(chan struct{}), done: make(chan struct{}), watch: w, watched: make(chan struct{})}
	go func() {
		defer close(r.watched)
		for e := range w.ResultChan() {
			if p, ok := e.Object.(*corev1alpha1.Pod); ok && e.Type == watch.Deleted {
				r.mu.Lock()
				r.deleted = append(r.deleted, p.Name)
				r.mu.Unlock()
			}
		}
	}()
	r.sample(ns, want)
	go func() {
		defer GinkgoRecover()
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			case <-time.After(5 * time.Millisecond):
				r.sample(ns, want)
			}
		}
	}()
	DeferCleanup(func() { r.Stop() })
	return r
}

func (r *recorder) sample(ns string, want []string) {
	var list corev1alpha1.PodList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return
	}
	running := map[string]bool{}
	for _, p := range list.Items {
		running[p.Name] = p.Status.Phase == corev1.PodRunning
	}
	missing := 0
	for _, n := range want {
		if !running[n] {
			missing++
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxMissing = max(r.maxMissing, missing)
}

// Stop ends the watch and the sampling and returns the deletions seen, in order, and the
// most pods of want missing or not running at once.
func (r *recorder) Stop() ([]string, int) {
	r.once.Do(func() {
		close(r.stop)
		r.watch.Stop()
	})
	<-r.done
	<-r.watched
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deleted), r.maxMissing
}
