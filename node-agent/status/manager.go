// Package status writes the statuses the pod workers compute: only changes, the newest
// of each pod, several pods at once.
package status

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Manager coalesces status updates per pod: a worker's Set replaces any update of the
// same pod not yet written, and an update equal to the last one written is dropped.
type Manager struct {
	client  client.Client
	log     logr.Logger
	writers int

	mu      sync.Mutex
	pending map[types.UID]update
	written map[types.UID]corev1.PodStatus
	kick    chan struct{}
}

type update struct {
	pod    client.ObjectKey
	status corev1.PodStatus
}

// NewManager returns a manager writing through c with up to writers requests at once.
func NewManager(c client.Client, log logr.Logger, writers int) *Manager {
	return &Manager{client: c, log: log, writers: writers, pending: map[types.UID]update{},
		written: map[types.UID]corev1.PodStatus{}, kick: make(chan struct{}, 1)}
}

// Set implements podworker.StatusSink.
func (m *Manager) Set(pod *corev1alpha1.Pod, status corev1.PodStatus) {
	status = normalize(status)
	m.mu.Lock()
	defer m.mu.Unlock()
	last, ok := m.written[pod.UID]
	if !ok && equality.Semantic.DeepEqual(pod.Status, status) || ok && equality.Semantic.DeepEqual(last, status) {
		delete(m.pending, pod.UID)
		return
	}
	m.pending[pod.UID] = update{pod: client.ObjectKeyFromObject(pod), status: status}
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// normalize truncates status's times to the second, the precision they are stored with,
// so that a status read back from the apiserver equals the one written, and an unchanged
// status is never written again.
func normalize(s corev1.PodStatus) corev1.PodStatus {
	s = *s.DeepCopy()
	second := func(t *metav1.Time) {
		if t != nil {
			*t = t.Rfc3339Copy()
		}
	}
	second(s.StartTime)
	for i := range s.Conditions {
		second(&s.Conditions[i].LastProbeTime)
		second(&s.Conditions[i].LastTransitionTime)
	}
	for _, list := range [][]corev1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range list {
			for _, st := range []*corev1.ContainerState{&list[i].State, &list[i].LastTerminationState} {
				if st.Running != nil {
					second(&st.Running.StartedAt)
				}
				if st.Terminated != nil {
					second(&st.Terminated.StartedAt)
					second(&st.Terminated.FinishedAt)
				}
			}
		}
	}
	return s
}

// Forget drops what the manager holds of a pod that is gone.
func (m *Manager) Forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, uid)
	delete(m.written, uid)
}

// Run writes pending updates until ctx ends. A failed write is retried a second later
// unless a newer update replaced it.
func (m *Manager) Run(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-retry.C:
		}
		if m.flush(ctx) {
			retry.Reset(time.Second)
		}
	}
}

// flush writes every pending update, writers at a time; true when one failed.
func (m *Manager) flush(ctx context.Context) (failed bool) {
	m.mu.Lock()
	batch := m.pending
	m.pending = map[types.UID]update{}
	m.mu.Unlock()

	var wg sync.WaitGroup
	sem := make(chan struct{}, m.writers)
	var mu sync.Mutex
	for uid, u := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := m.write(ctx, u)
			m.mu.Lock()
			defer m.mu.Unlock()
			switch {
			case err == nil:
				m.written[uid] = u.status
			case apierrors.IsNotFound(err):
			default:
				m.log.Error(err, "Writing pod status", "pod", u.pod)
				if _, newer := m.pending[uid]; !newer {
					m.pending[uid] = u
				}
				mu.Lock()
				failed = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

// write replaces the pod's status with a merge patch: the agent owns the status of the
// pods bound to it, so no list in it needs merging with another writer's.
func (m *Manager) write(ctx context.Context, u update) error {
	body, err := json.Marshal(map[string]any{"status": u.status})
	if err != nil {
		return err
	}
	pod := &corev1alpha1.Pod{}
	pod.Namespace, pod.Name = u.pod.Namespace, u.pod.Name
	return m.client.Status().Patch(ctx, pod, client.RawPatch(types.MergePatchType, body))
}
