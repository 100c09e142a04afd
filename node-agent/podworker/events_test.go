package podworker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/internal/testutil"
	"github.com/kybern/kybern/node-agent/runtime"
	"github.com/kybern/kybern/node-agent/runtime/simulated"
)

// recorded collects what a fake recorder was given, which probe loops add to from their
// own goroutines.
type recorded struct {
	fake *record.FakeRecorder
	mu   sync.Mutex
	seen []string
}

func (e *recorded) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		select {
		case ev := <-e.fake.Events:
			e.seen = append(e.seen, ev)
		default:
			return slices.Clone(e.seen)
		}
	}
}

// has says whether the events hold, in this order, one starting with each of want.
func (e *recorded) has(want ...string) bool {
	i := 0
	for _, ev := range e.all() {
		if i < len(want) && strings.HasPrefix(ev, want[i]) {
			i++
		}
	}
	return i == len(want)
}

// await waits until has(want...), which probe loops may make true a moment later.
func (e *recorded) await(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !e.has(want...) {
		if time.Now().After(deadline) {
			t.Fatalf("recorded %q, want in this order events starting with %q", e.all(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noSandbox fails every sandbox, as a CNI plugin that cannot give the pod an address.
type noSandbox struct{ *simulated.Runtime }

func (noSandbox) StartSandbox(context.Context, runtime.PodRef) ([]string, error) {
	return nil, errors.New("plugin type=\"bridge\" failed (add): no IP addresses available in range set")
}

// noImage fails every pull, as a registry that does not answer.
type noImage struct{ *simulated.Runtime }

func (noImage) EnsureImage(_ context.Context, image string, _ corev1.PullPolicy, pulling func()) (runtime.Image, error) {
	pulling()
	return runtime.Image{}, &runtime.ImagePullError{Image: image, Message: "dial tcp: lookup registry.example: no such host"}
}

// pulls pulls every image, as a registry that serves it to a node that lacks it.
type pulls struct{ *simulated.Runtime }

func (pulls) EnsureImage(_ context.Context, image string, _ corev1.PullPolicy, pulling func()) (runtime.Image, error) {
	pulling()
	return runtime.Image{ID: "simulated://" + image, Pull: &runtime.Pull{Duration: 1500 * time.Millisecond, Size: 1234}}, nil
}

func TestEventsHaveTheKubeletsReasons(t *testing.T) {
	probed := func(probe func(c *corev1.Container)) *corev1alpha1.Pod {
		c := ctr("web", "httpd", "-f")
		probe(&c)
		return testPod(corev1.RestartPolicyAlways, c)
	}
	cases := []struct {
		name string
		pod  *corev1alpha1.Pod
		run  func(r *rig)
		want []string
		// status, when set, checks the pod's status after run.
		status func(t *testing.T, r *rig)
	}{{
		name: "start: the image is present, the container created and started",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run:  func(r *rig) { r.step(0) },
		want: []string{`Normal Pulled Container image "busybox" already present on machine`, "Normal Created Created container: web", "Normal Started Started container web"},
	}, {
		name: "readiness probe failure: Unhealthy at each failed run, with the probe's kind",
		pod:  probed(func(c *corev1.Container) { c.ReadinessProbe = execProbe(1, 3, "false") }),
		run: func(r *rig) {
			r.step(0)
			r.step(latency)
			r.probed(1)
		},
		want: []string{"Normal Started", "Warning Unhealthy Readiness probe failed: "},
	}, {
		name: "liveness probe failure: Unhealthy, then the container is killed to restart",
		pod:  probed(func(c *corev1.Container) { c.LivenessProbe = execProbe(1, 1, "false") }),
		run: func(r *rig) {
			r.step(0)
			r.step(latency)
			r.probed(1)
			id := strings.TrimPrefix(r.container("web").ContainerID, "simulated://")
			testutil.Until(r.t, "the failure for good", func() bool { _, failed := r.w.probes.Failed(id); return failed })
			r.step(0)
		},
		want: []string{"Warning Unhealthy Liveness probe failed: ", "Normal Killing Container web failed liveness probe, will be restarted"},
	}, {
		name: "crash loop: BackOff while the restart waits",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("crash", "sh", "-c", "exit 2")),
		run: func(r *rig) {
			r.step(0)
			r.step(latency)
			r.step(0)
			r.step(latency)
			r.step(0)
		},
		want: []string{"Normal Started Started container crash", "Normal Started Started container crash",
			"Warning BackOff Back-off restarting failed container crash in pod p_ns(uid-1)"},
	}, {
		name: "deletion: each running container is stopped",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run: func(r *rig) {
			r.step(0)
			r.step(latency)
			r.w.Gone()
			r.step(0)
		},
		want: []string{"Normal Started", "Normal Killing Stopping container web"},
	}, {
		name: "a container that cannot be created: Failed, with the error",
		pod: func() *corev1alpha1.Pod {
			c := ctr("web", "httpd", "-f")
			c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)}
			return testPod(corev1.RestartPolicyAlways, c)
		}(),
		run:  func(r *rig) { r.step(0) },
		want: []string{"Normal Pulled", `Warning Failed Error: container's runAsUser breaks non-root policy (pod: "p_ns(uid-1)", container: web)`},
	}, {
		name: "a volume that cannot be set up: FailedMount",
		pod: func() *corev1alpha1.Pod {
			p := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
			p.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}}}}}
			return p
		}(),
		run:  func(r *rig) { r.step(0) },
		want: []string{`Warning FailedMount MountVolume.SetUp failed for volume "config" : configmap "missing" not found`},
	}, {
		name: "an absent image: Pulling, then Pulled with the time it took and its size",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run: func(r *rig) {
			r.env.Runtime = pulls{r.rt}
			r.step(0)
		},
		want: []string{`Normal Pulling Pulling image "busybox"`, `Normal Pulled Successfully pulled image "busybox" in 1.5s. Image size: 1234 bytes.`,
			"Normal Started Started container web"},
	}, {
		name: "a failed pull, then its back-off",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run: func(r *rig) {
			r.env.Runtime = noImage{r.rt}
			r.step(0)
			r.step(backoffInitial)
		},
		want: []string{`Normal Pulling Pulling image "busybox"`, `Warning Failed Failed to pull image "busybox": dial tcp`, "Warning Failed Error: ErrImagePull",
			`Normal BackOff Back-off pulling image "busybox"`, "Warning Failed Error: ImagePullBackOff"},
	}, {
		name: "no sandbox: FailedCreatePodSandBox, and the pod Pending, not ready to start containers",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run: func(r *rig) {
			r.env.Runtime = noSandbox{r.rt}
			if _, err := r.w.sync(r.ctx); err == nil {
				r.t.Fatal("sync without a sandbox: no error")
			}
		},
		want: []string{`Warning FailedCreatePodSandBox Failed to create pod sandbox: plugin type="bridge" failed (add): no IP addresses available`},
		status: func(t *testing.T, r *rig) {
			r.status.mu.Lock()
			st := r.status.last
			r.status.mu.Unlock()
			if st.Phase != corev1.PodPending || len(st.Conditions) == 0 || st.Conditions[0].Type != corev1.PodReadyToStartContainers || st.Conditions[0].Status != corev1.ConditionFalse {
				t.Fatalf("status without a sandbox: phase %s, conditions %+v; want Pending, PodReadyToStartContainers False", st.Phase, st.Conditions)
			}
			if w := r.container("web").State.Waiting; w == nil || w.Reason != ReasonContainerCreating {
				t.Fatalf("web waits %+v, want ContainerCreating", w)
			}
		},
	}, {
		name: "a panic while syncing: FailedSync on the pod",
		pod:  testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f")),
		run: func(r *rig) {
			r.env.Runtime = &panickingRuntime{Runtime: r.rt}
			if _, err := r.w.guardedSync(r.ctx); err == nil {
				r.t.Fatal("a panicking sync: no error")
			}
		},
		want: []string{"Warning FailedSync Error syncing pod: the node agent panicked: a bug in the runtime"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.pod)
			t.Cleanup(r.w.probes.Stop)
			tc.run(r)
			r.events.await(t, tc.want...)
			if tc.status != nil {
				tc.status(t, r)
			}
		})
	}
}
