package node

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// The reasons drain gives for what it does with a pod, as upstream's.
const (
	daemonSetFatal      = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
	daemonSetWarning    = "ignoring DaemonSet-managed Pods"
	localStorageFatal   = "Pods with local storage (use --delete-emptydir-data to override)"
	localStorageWarning = "deleting Pods with local storage"
	unmanagedFatal      = "Pods that declare no controller (use --force to override)"
	unmanagedWarning    = "deleting Pods that declare no controller"
)

type verdictKind int

const (
	verdictOkay verdictKind = iota
	verdictSkip
	verdictWarning
	verdictError
)

// verdict is what drain does with one pod: delete it or not, and why.
type verdict struct {
	delete  bool
	kind    verdictKind
	message string
}

var okay = verdict{delete: true, kind: verdictOkay}

// filters are drain's rules for which pods of a node it deletes.
type filters struct {
	force, ignoreDaemonSets, deleteEmptyDirData bool
	// skipWaitForDeleteTimeout, when positive, skips pods deleted longer ago than this.
	skipWaitForDeleteTimeout time.Duration
	now                      time.Time
	// daemonSet reads the DaemonSet of a pod: nil when it exists, else why it could not be
	// read (NotFound when it is gone).
	daemonSet func(namespace, name string) error
}

// judge runs the rules in upstream's order, the first that keeps the pod deciding. Of
// rules that let it go, a warning outlasts a later okay, so that every deletion that needs
// one is warned of.
func (f filters) judge(pod *corev1alpha1.Pod) verdict {
	v := okay
	for _, rule := range []func(*corev1alpha1.Pod) verdict{f.skipDeleted, f.daemonSetPod, f.localStorage, f.unreplicated} {
		switch next := rule(pod); {
		case !next.delete:
			return next
		case next.kind == verdictWarning:
			v = next
		}
	}
	return v
}

func (f filters) skipDeleted(pod *corev1alpha1.Pod) verdict {
	if f.deletedLongAgo(pod.DeletionTimestamp) {
		return verdict{kind: verdictSkip}
	}
	return okay
}

// deletedLongAgo reports whether a pod deleted at deleted is past waiting for.
func (f filters) deletedLongAgo(deleted *metav1.Time) bool {
	return f.skipWaitForDeleteTimeout > 0 && deleted != nil && f.now.Sub(deleted.Time) > f.skipWaitForDeleteTimeout
}

func (f filters) daemonSetPod(pod *corev1alpha1.Pod) verdict {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "DaemonSet" || ref.APIVersion != appsv1alpha1.GroupVersion.String() || finished(pod) {
		return okay
	}
	if err := f.daemonSet(pod.Namespace, ref.Name); err != nil {
		if apierrors.IsNotFound(err) && f.force {
			return verdict{delete: true, kind: verdictWarning, message: err.Error()}
		}
		return verdict{kind: verdictError, message: err.Error()}
	}
	if !f.ignoreDaemonSets {
		return verdict{kind: verdictError, message: daemonSetFatal}
	}
	return verdict{kind: verdictWarning, message: daemonSetWarning}
}

func (f filters) localStorage(pod *corev1alpha1.Pod) verdict {
	if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.EmptyDir != nil }) || finished(pod) {
		return okay
	}
	if !f.deleteEmptyDirData {
		return verdict{kind: verdictError, message: localStorageFatal}
	}
	return verdict{delete: true, kind: verdictWarning, message: localStorageWarning}
}

func (f filters) unreplicated(pod *corev1alpha1.Pod) verdict {
	if finished(pod) || metav1.GetControllerOf(pod) != nil {
		return okay
	}
	if f.force {
		return verdict{delete: true, kind: verdictWarning, message: unmanagedWarning}
	}
	return verdict{kind: verdictError, message: unmanagedFatal}
}

func finished(pod *corev1alpha1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// judged is a node's pods with drain's verdict on each.
type judged struct {
	pods     []*corev1alpha1.Pod
	verdicts []verdict
}

func (f filters) judgeAll(pods []*corev1alpha1.Pod) *judged {
	j := &judged{pods: pods}
	for _, p := range pods {
		j.verdicts = append(j.verdicts, f.judge(p))
	}
	return j
}

// toDelete are the pods drain deletes.
func (j *judged) toDelete() []*corev1alpha1.Pod {
	var out []*corev1alpha1.Pod
	for i, v := range j.verdicts {
		if v.delete {
			out = append(out, j.pods[i])
		}
	}
	return out
}

// warnings lists, by reason, the pods drain deletes or leaves with a warning: "ignoring
// DaemonSet-managed Pods: ns/a, ns/b; deleting Pods that declare no controller: ns/c".
func (j *judged) warnings() string {
	var msgs []string
	for reason, pods := range j.byReason(verdictWarning) {
		msgs = append(msgs, fmt.Sprintf("%s: %s", reason, strings.Join(pods, ", ")))
	}
	slices.Sort(msgs)
	return strings.Join(msgs, "; ")
}

// errors are the reasons drain refuses to go on, each with its pods: "cannot delete Pods
// that declare no controller (use --force to override): ns/a".
func (j *judged) errors() []error {
	var errs []error
	for reason, pods := range j.byReason(verdictError) {
		errs = append(errs, fmt.Errorf("cannot delete %s: %s", reason, strings.Join(pods, ", ")))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

func (j *judged) byReason(kind verdictKind) map[string][]string {
	out := map[string][]string{}
	for i, v := range j.verdicts {
		if v.kind == kind {
			msg := v.message
			if msg == "" {
				msg = "unexpected error"
			}
			out[msg] = append(out[msg], j.pods[i].Namespace+"/"+j.pods[i].Name)
		}
	}
	return out
}
