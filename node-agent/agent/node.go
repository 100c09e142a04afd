package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// LeaseNamespace holds one Lease per node, renewed by its agent; node lifecycle reads them.
const LeaseNamespace = corev1alpha1.NodeLeaseNamespace

// Heartbeat timings, as upstream's kubelet: the Lease is renewed every 10 s and lasts
// 40 s; the Node's status is posted again every 5 min when nothing changed.
const (
	leaseDurationSeconds = 40
	renewInterval        = 10 * time.Second
	statusReportInterval = 5 * time.Minute
)

// register creates the agent's Node if it does not exist, then posts its status.
func (a *Agent) register(ctx context.Context) error {
	node := &corev1alpha1.Node{}
	err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node)
	switch {
	case apierrors.IsNotFound(err):
		node = &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: a.labels()}}
		if err := a.client.Create(ctx, node); err != nil {
			return fmt.Errorf("registering node %s: %w", a.cfg.NodeName, err)
		}
		a.log.Info("Registered node")
	case err != nil:
		return fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
	default:
		want := node.DeepCopy()
		for k, v := range a.labels() {
			metav1.SetMetaDataLabel(&want.ObjectMeta, k, v)
		}
		if err := a.client.Patch(ctx, want, client.MergeFrom(node)); err != nil {
			return fmt.Errorf("labelling node %s: %w", a.cfg.NodeName, err)
		}
	}
	return a.postStatus(ctx)
}

func (a *Agent) labels() map[string]string {
	out := map[string]string{
		corev1.LabelHostname:   a.cfg.NodeName,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: a.cfg.Arch,
	}
	for k, v := range a.cfg.Labels {
		out[k] = v
	}
	return out
}

// postStatus writes the node's capacity, allocatable, addresses, identity and
// conditions as evaluated now.
func (a *Agent) postStatus(ctx context.Context) error {
	node := &corev1alpha1.Node{}
	if err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node); err != nil {
		return fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
	}
	return a.postConditions(ctx, node, a.conditions(ctx))
}

// postConditions posts the node's status with conds, keeping the transition time of each
// condition whose status the Node already shows.
func (a *Agent) postConditions(ctx context.Context, node *corev1alpha1.Node, conds []corev1.NodeCondition) error {
	allocatable := a.cfg.Allocatable
	if allocatable == nil {
		allocatable = a.cfg.Capacity
	}
	status := corev1.NodeStatus{
		Capacity:        a.cfg.Capacity,
		Allocatable:     allocatable,
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.cfg.Address}, {Type: corev1.NodeHostName, Address: a.cfg.NodeName}},
		NodeInfo:        a.cfg.NodeInfo,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.cfg.APIPort}},
		Conditions:      conds,
	}
	for i, c := range status.Conditions {
		for _, old := range node.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				status.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	// The whole status, not a diff: a diff leaves out fields equal to their zero value,
	// which the schema requires all the same.
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := a.client.Status().Patch(ctx, node, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("posting status of node %s: %w", a.cfg.NodeName, err)
	}
	a.lastStatus = a.clock.Now()
	return nil
}

// heartbeat renews the node's Lease every renewInterval and evaluates the node's
// conditions as often (upstream's nodeStatusUpdateFrequency), and at once when
// StatusChanged asks; it posts the node's status when a condition's status differs from
// what the Node shows (node lifecycle marks an agent that was away Unknown), else every
// statusReportInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	ticker := a.clock.NewTicker(renewInterval)
	defer ticker.Stop()
	for renew := true; ; {
		if renew {
			if err := a.renewLease(ctx); err != nil {
				a.log.Error(err, "Renewing node lease")
			}
		}
		if err := a.postStatusIfDue(ctx); err != nil {
			a.log.Error(err, "Posting node status")
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			renew = true
		case <-a.statusChanged:
			// The Lease waits for its tick.
			renew = false
		}
	}
}

func (a *Agent) postStatusIfDue(ctx context.Context) error {
	node := &corev1alpha1.Node{}
	if err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node); err != nil {
		return fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
	}
	conds := a.conditions(ctx)
	if !changed(node.Status.Conditions, conds) && a.clock.Since(a.lastStatus) < statusReportInterval {
		return nil
	}
	for _, c := range conds {
		if c.Type == corev1.NodeReady {
			a.log.V(1).Info("Posting node status", "ready", c.Status, "message", c.Message)
		}
	}
	return a.postConditions(ctx, node, conds)
}

// renewLease creates or renews the node's Lease, held by the node's name.
func (a *Agent) renewLease(ctx context.Context) error {
	now := metav1.NewMicroTime(a.clock.Now())
	lease := &coordinationv1.Lease{}
	err := a.client.Get(ctx, client.ObjectKey{Namespace: LeaseNamespace, Name: a.cfg.NodeName}, lease)
	if apierrors.IsNotFound(err) {
		node := &corev1alpha1.Node{}
		if err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node); err != nil {
			return fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
		}
		// Owned by its Node, as upstream's node leases: deleting the Node removes it.
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: LeaseNamespace, Name: a.cfg.NodeName,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(a.cfg.NodeName), LeaseDurationSeconds: ptr.To[int32](leaseDurationSeconds), RenewTime: &now}}
		if err := a.client.Create(ctx, lease); err != nil {
			return fmt.Errorf("creating lease %s/%s (make install creates its namespace): %w", LeaseNamespace, a.cfg.NodeName, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = ptr.To(a.cfg.NodeName), ptr.To[int32](leaseDurationSeconds), &now
	return a.client.Update(ctx, lease)
}

// podCIDRPoll is how often the agent looks for the pod CIDR the manager assigns its node.
const podCIDRPoll = 500 * time.Millisecond

// waitForPodCIDR returns the pod CIDR the manager's node lifecycle controller assigns the
// node; pods cannot get addresses before.
func (a *Agent) waitForPodCIDR(ctx context.Context) (string, error) {
	ticker := a.clock.NewTicker(podCIDRPoll)
	defer ticker.Stop()
	for waited := 0; ; waited++ {
		node := &corev1alpha1.Node{}
		if err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node); err != nil {
			return "", fmt.Errorf("reading node %s: %w", a.cfg.NodeName, err)
		}
		if node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		if waited == 10 {
			a.log.Info("Waiting for the manager to assign the node a pod CIDR; is the manager running?")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-ticker.C():
		}
	}
}
