// Package placement lets a workload controller create its pods already bound to a node,
// one write per pod instead of a create and a bind, when the scheduler runs in the same
// manager.
package placement

import (
	"context"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Placer chooses nodes for pods about to be created.
type Placer interface {
	// Place sets pod.Spec.NodeName to the node the scheduler would bind pod to, counting
	// pod against it, and returns done, which the caller must call once the create has
	// been tried: with the created pod (its UID set) on success, with nil on failure.
	// A pod for another scheduler, or one that fits nowhere, is left unbound and done does
	// nothing: the scheduler takes it up once it exists.
	Place(ctx context.Context, pod *corev1alpha1.Pod) (done func(created *corev1alpha1.Pod))
}

// Relay is the Placer that a manager's workload controllers hold: it forwards to the
// scheduler that Serve was given, and without one leaves every pod unbound, so that a
// controller runs the same whether or not the scheduler runs beside it. Serve is called
// while controllers are set up, before the manager starts them.
type Relay struct {
	placer Placer
}

// Serve makes p the Placer that Place forwards to.
func (r *Relay) Serve(p Placer) {
	r.placer = p
}

// Place implements Placer.
func (r *Relay) Place(ctx context.Context, pod *corev1alpha1.Pod) func(created *corev1alpha1.Pod) {
	if r == nil || r.placer == nil {
		return func(*corev1alpha1.Pod) {}
	}
	return r.placer.Place(ctx, pod)
}
