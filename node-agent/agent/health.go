package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/kybern/kybern/node-agent/eviction"
)

// Health thresholds, as upstream's kubelet: the relist loop (the PLEG) is unhealthy once it
// has not completed a round for plegRelistThreshold; the runtime must answer its version
// within runtimeCheckTimeout.
const (
	plegRelistThreshold = 3 * time.Minute
	runtimeCheckTimeout = 2 * time.Second
)

// StatusChanged asks the heartbeat loop to evaluate the node's conditions at once and to
// post them if any condition's status changed, instead of at its next 10 s round. Whatever
// changes the node's health (the runtime going down or coming back, as the embedded
// containerd's supervisor sees it) calls it; it never blocks, and calls while one is
// pending merge.
func (a *Agent) StatusChanged() {
	select {
	case a.statusChanged <- struct{}{}:
	default:
	}
}

// relisted records that the relist loop completed a round with the runtime's containers.
func (a *Agent) relisted() { a.lastRelist.Store(a.clock.Now().UnixNano()) }

// networkConfigured records that the runtime has its pod CIDR, so that it can give pods
// addresses.
func (a *Agent) networkConfigured() {
	a.networkReady.Store(true)
	a.StatusChanged()
}

// readyErrors are why the node is not Ready, nil when it is, in upstream's words: the
// runtime does not answer, the relist loop is stalled, or the pod network is not ready.
func (a *Agent) readyErrors(ctx context.Context) error {
	var errs []error
	check, cancel := context.WithTimeout(ctx, runtimeCheckTimeout)
	defer cancel()
	if _, err := a.runtime.Version(check); err != nil {
		a.log.V(1).Info("The container runtime does not answer", "error", err.Error())
		errs = append(errs, errors.New("container runtime is down"))
	}
	if since := a.clock.Since(time.Unix(0, a.lastRelist.Load())); since > plegRelistThreshold {
		errs = append(errs, fmt.Errorf("PLEG is not healthy: pleg was last seen active %v ago; threshold is %v", since.Round(time.Second), plegRelistThreshold))
	}
	if !a.networkReady.Load() {
		errs = append(errs, errors.New("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:the node has no pod CIDR yet"))
	}
	return utilerrors.NewAggregate(errs)
}

// conditions are the node's MemoryPressure, DiskPressure, PIDPressure and Ready
// conditions as evaluated now, with now as their heartbeat and transition time; postStatus
// keeps the transition time of a condition whose status holds.
func (a *Agent) conditions(ctx context.Context) []corev1.NodeCondition {
	now := a.clock.Now()
	var pressure eviction.Pressure
	if a.cfg.Eviction != nil {
		pressure = a.cfg.Eviction.Pressure()
	}
	out := make([]corev1.NodeCondition, 0, 4)
	add := func(t corev1.NodeConditionType, on bool, onReason, onMsg, offReason, offMsg string) {
		c := corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: offReason, Message: offMsg}
		if on {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, onReason, onMsg
		}
		out = append(out, c)
	}
	add(corev1.NodeMemoryPressure, pressure.Memory, "KubeletHasInsufficientMemory", "node agent has insufficient memory available",
		"KubeletHasSufficientMemory", "node agent has sufficient memory available")
	add(corev1.NodeDiskPressure, pressure.Disk, "KubeletHasDiskPressure", "node agent has disk pressure",
		"KubeletHasNoDiskPressure", "node agent has no disk pressure")
	add(corev1.NodePIDPressure, pressure.PID, "KubeletHasInsufficientPID", "node agent has insufficient PID available",
		"KubeletHasSufficientPID", "node agent has sufficient PID available")
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "node agent is posting ready status"}
	if err := a.readyErrors(ctx); err != nil {
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "KubeletNotReady", err.Error()
	}
	out = append(out, ready)
	for i := range out {
		out[i].LastHeartbeatTime.Time, out[i].LastTransitionTime.Time = now, now
	}
	return out
}

// changed says whether a condition of want differs in status from what the Node shows.
func changed(shown, want []corev1.NodeCondition) bool {
	for _, w := range want {
		found := false
		for _, s := range shown {
			if s.Type == w.Type {
				found = true
				if s.Status != w.Status {
					return true
				}
			}
		}
		if !found {
			return true
		}
	}
	return false
}
