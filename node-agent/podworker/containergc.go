package podworker

import (
	"context"
	"errors"
	"os"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/containerlogs"
)

// removeOlderAttempts removes the exited attempts of container name that are older than
// keep, with their logs, rotated ones included, as the kubelet's container garbage
// collection keeps one dead container per pod and container name (MaxPerPodContainer 1):
// keep, the previous attempt, stays for lastState and `kubectl logs --previous`. A
// container it cannot remove is tried again at the next restart.
func (w *Worker) removeOlderAttempts(ctx context.Context, pod *corev1alpha1.Pod, name string, keep int32) {
	containers, err := w.containers(ctx)
	if err != nil {
		w.log.Error(err, "Removing the older attempts of a restarted container", "container", name)
		return
	}
	for _, old := range containers[name] {
		if old.Attempt >= keep {
			continue
		}
		if err := w.env.Runtime.RemoveContainer(ctx, old.ID); err != nil {
			w.log.Error(err, "Removing an older attempt of a restarted container", "container", name, "attempt", old.Attempt)
			continue
		}
		if err := removeLog(LogPath(w.env.LogDir, pod, name, old.Attempt)); err != nil {
			w.log.Error(err, "Removing the log of an older attempt", "container", name, "attempt", old.Attempt)
		}
	}
}

// removeLog removes the log whose current file is path and every rotated file of it.
func removeLog(path string) error {
	rotated, leftovers, err := containerlogs.Rotated(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var errs []error
	for _, f := range append(append(rotated, leftovers...), path) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
