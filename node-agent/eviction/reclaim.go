package eviction

import "context"

// reclaims says whether pruning images may relieve pressure on a signal, as upstream's
// node-level reclaim: any disk signal when the images share nodefs, only imagefs's when
// they have a filesystem of their own.
func (m *Manager) reclaims(s Signal) bool {
	switch s {
	case ImageFsAvailable, ImageFsInodesFree:
		return true
	case NodeFsAvailable, NodeFsInodesFree:
		return !m.cfg.DedicatedImageFs
	}
	return false
}

// reclaimNodeLevel prunes the images no container uses when that may relieve t, then
// measures again: true when then no threshold, hard or soft and whatever its grace
// period, is crossed short of its minimum reclaim, so that no pod need be evicted.
func (m *Manager) reclaimNodeLevel(ctx context.Context, t Threshold) bool {
	if m.cfg.Images == nil || !m.reclaims(t.Signal) {
		return false
	}
	if err := m.cfg.Images.DeleteUnusedImages(ctx); err != nil {
		m.cfg.Log.Info("Deleting unused images to relieve disk pressure failed", "threshold", t.String(), "err", err.Error())
	}
	obs, err := m.cfg.Signals.Measure(ctx)
	if err != nil {
		m.cfg.Log.Error(err, "Measuring the node's eviction signals after deleting unused images")
		return false
	}
	if len(met(m.cfg.Thresholds, obs, true)) > 0 {
		return false
	}
	m.cfg.Log.Info("Relieved disk pressure by deleting unused images, without evicting a pod", "threshold", t.String())
	return true
}
