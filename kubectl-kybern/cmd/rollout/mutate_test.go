package rollout

import (
	"testing"
	"time"

	"github.com/kybern/kybern/kubectl-kybern/cmd/cli"
)

func TestRestartPatch(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	restart := restartPatch(func() time.Time { return now })

	ds := target(cli.DaemonSet, templateMap("a:1", nil), nil)
	patch, err := restart(ds)
	if want := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-05-01T10:00:00Z"}}}}}`; err != nil || string(patch) != want {
		t.Errorf("patch = %s, %v; want %s", patch, err, want)
	}

	paused := target(cli.Deployment, templateMap("a:1", nil), nil)
	paused.Object.Object["spec"].(map[string]any)["paused"] = true
	if _, err := restart(paused); err == nil || err.Error() != "can't restart paused deployment (run rollout resume first)" {
		t.Errorf("paused error = %v", err)
	}

	twice := target(cli.StatefulSet, templateMap("a:1", nil), nil)
	twice.Object.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"] = map[string]any{
		"annotations": map[string]any{restartedAtAnnotation: "2026-05-01T10:00:00Z"}}
	if _, err := restart(twice); err == nil {
		t.Error("a second restart within the second was accepted")
	}

	if _, err := restart(target(cli.ReplicaSet, templateMap("a:1", nil), nil)); err == nil || err.Error() != "restarting is not supported" {
		t.Errorf("replica set error = %v", err)
	}
}

func TestPausePatch(t *testing.T) {
	d := target(cli.Deployment, templateMap("a:1", nil), nil)
	if patch, err := pausePatch(true)(d); err != nil || string(patch) != `{"spec":{"paused":true}}` {
		t.Errorf("pause = %s, %v", patch, err)
	}
	if _, err := pausePatch(false)(d); err == nil || err.Error() != "is not paused" {
		t.Errorf("resume of a running deployment: %v", err)
	}
	d.Object.Object["spec"].(map[string]any)["paused"] = true
	if patch, err := pausePatch(false)(d); err != nil || string(patch) != `{"spec":{"paused":null}}` {
		t.Errorf("resume = %s, %v", patch, err)
	}
	if _, err := pausePatch(true)(d); err == nil || err.Error() != "is already paused" {
		t.Errorf("pause of a paused deployment: %v", err)
	}
	if _, err := pausePatch(true)(target(cli.StatefulSet, templateMap("a:1", nil), nil)); err == nil || err.Error() != "pausing is not supported" {
		t.Errorf("statefulset pause: %v", err)
	}
	if _, err := pausePatch(false)(target(cli.DaemonSet, templateMap("a:1", nil), nil)); err == nil || err.Error() != "resuming is not supported" {
		t.Errorf("daemonset resume: %v", err)
	}
}
