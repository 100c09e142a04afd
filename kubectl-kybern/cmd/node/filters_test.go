package node

import (
	"errors"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

type podOption func(*corev1alpha1.Pod)

func ownedBy(kind string) podOption {
	return func(p *corev1alpha1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: appsv1alpha1.GroupVersion.String(), Kind: kind, Name: "owner", Controller: ptr.To(true)}}
	}
}

func withEmptyDir(p *corev1alpha1.Pod) {
	p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
}

func succeeded(p *corev1alpha1.Pod) { p.Status.Phase = corev1.PodSucceeded }

func deletedAgo(d time.Duration) podOption {
	return func(p *corev1alpha1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: now.Add(-d)} }
}

func pod(name string, opts ...podOption) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func daemonSets(err error) func(string, string) error {
	return func(string, string) error { return err }
}

var dsGone = apierrors.NewNotFound(schema.GroupResource{Group: "apps.kybern.io", Resource: "daemonsets"}, "owner")

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       filters
		pod     *corev1alpha1.Pod
		verdict verdict
	}{
		{name: "replica set pod", pod: pod("a", ownedBy("ReplicaSet")), verdict: okay},
		{name: "bare pod", pod: pod("a"), verdict: verdict{kind: verdictError, message: unmanagedFatal}},
		{name: "bare pod forced", f: filters{force: true}, pod: pod("a"), verdict: verdict{delete: true, kind: verdictWarning, message: unmanagedWarning}},
		{name: "bare pod finished", pod: pod("a", succeeded), verdict: okay},
		{name: "daemon set pod", f: filters{daemonSet: daemonSets(nil)}, pod: pod("a", ownedBy("DaemonSet")), verdict: verdict{kind: verdictError, message: daemonSetFatal}},
		{name: "daemon set pod ignored", f: filters{ignoreDaemonSets: true, daemonSet: daemonSets(nil)}, pod: pod("a", ownedBy("DaemonSet")), verdict: verdict{kind: verdictWarning, message: daemonSetWarning}},
		{name: "daemon set gone", f: filters{daemonSet: daemonSets(dsGone)}, pod: pod("a", ownedBy("DaemonSet")), verdict: verdict{kind: verdictError, message: dsGone.Error()}},
		{name: "daemon set gone forced", f: filters{force: true, daemonSet: daemonSets(dsGone)}, pod: pod("a", ownedBy("DaemonSet")), verdict: verdict{delete: true, kind: verdictWarning, message: dsGone.Error()}},
		{name: "daemon set unreadable", f: filters{force: true, daemonSet: daemonSets(errors.New("forbidden"))}, pod: pod("a", ownedBy("DaemonSet")), verdict: verdict{kind: verdictError, message: "forbidden"}},
		{name: "finished daemon set pod", pod: pod("a", ownedBy("DaemonSet"), succeeded), verdict: okay},
		{name: "emptyDir", pod: pod("a", ownedBy("ReplicaSet"), withEmptyDir), verdict: verdict{kind: verdictError, message: localStorageFatal}},
		{name: "emptyDir deleted", f: filters{deleteEmptyDirData: true}, pod: pod("a", ownedBy("ReplicaSet"), withEmptyDir), verdict: verdict{delete: true, kind: verdictWarning, message: localStorageWarning}},
		{name: "deleted long ago", f: filters{skipWaitForDeleteTimeout: time.Minute, now: now}, pod: pod("a", deletedAgo(2*time.Minute)), verdict: verdict{kind: verdictSkip}},
		{name: "deleted lately", f: filters{skipWaitForDeleteTimeout: time.Minute, now: now}, pod: pod("a", ownedBy("ReplicaSet"), deletedAgo(time.Second)), verdict: okay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.judge(tc.pod); got != tc.verdict {
				t.Errorf("verdict = %+v, want %+v", got, tc.verdict)
			}
		})
	}
}

func TestJudgedSummaries(t *testing.T) {
	f := filters{ignoreDaemonSets: true, daemonSet: daemonSets(nil)}
	j := f.judgeAll([]*corev1alpha1.Pod{
		pod("web", ownedBy("ReplicaSet")),
		pod("agent", ownedBy("DaemonSet")),
		pod("bare1"), pod("bare2"),
		pod("scratch", ownedBy("Job"), withEmptyDir),
	})
	var deleted []string
	for _, p := range j.toDelete() {
		deleted = append(deleted, p.Name)
	}
	if !reflect.DeepEqual(deleted, []string{"web"}) {
		t.Errorf("deleted = %v", deleted)
	}
	if got, want := j.warnings(), "ignoring DaemonSet-managed Pods: ns/agent"; got != want {
		t.Errorf("warnings = %q, want %q", got, want)
	}
	var msgs []string
	for _, err := range j.errors() {
		msgs = append(msgs, err.Error())
	}
	want := []string{
		"cannot delete Pods that declare no controller (use --force to override): ns/bare1, ns/bare2",
		"cannot delete Pods with local storage (use --delete-emptydir-data to override): ns/scratch",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("errors = %q\nwant %q", msgs, want)
	}
}
