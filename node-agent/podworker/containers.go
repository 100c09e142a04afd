package podworker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/events"
	"github.com/kybern/kybern/node-agent/prober"
	"github.com/kybern/kybern/node-agent/runtime"
)

// probeTargets lists the running instances of the sidecars and main containers, which
// probes run against.
func probeTargets(pod *corev1alpha1.Pod, containers map[string][]runtime.Container) []prober.Running {
	var out []prober.Running
	add := func(c *corev1.Container) {
		if instances := containers[c.Name]; len(instances) > 0 && instances[0].State == runtime.StateRunning {
			out = append(out, prober.Running{ID: instances[0].ID, StartedAt: instances[0].StartedAt, Spec: c})
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			add(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// kill stops an instance whose liveness or startup probe failed, within the probe's
// grace period or else the pod's; the next sync restarts it as restartPolicy says.
func (w *Worker) kill(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, instance runtime.Container, why prober.Kill) time.Duration {
	grace := gracePeriod(pod)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
		}
	}
	w.log.Info("Killing container", "container", c.Name, "reason", why.Message())
	w.killed[instance.ID] = why.Message()
	w.containerEvent(pod, c, corev1.EventTypeNormal, events.Killing, "%s", why.Event())
	if err := w.stopInstance(ctx, pod, c, instance.ID, grace); err != nil {
		w.log.Error(err, "Killing container", "container", c.Name)
		return time.Second
	}
	w.Poke()
	return 0
}

// restart starts the next attempt of c once its back-off allows, reporting
// CrashLoopBackOff until then; it returns how long is left to wait.
func (w *Worker) restart(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, exited runtime.Container) time.Duration {
	now := w.env.Clock.Now()
	if wait := w.backoff.wait(c.Name, exited.StartedAt, exited.FinishedAt, now); wait > 0 {
		delay := w.backoff[c.Name]
		w.waiting[c.Name] = reason{ReasonCrashLoopBackOff, fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
			delay, c.Name, pod.Name, pod.Namespace, pod.UID)}
		w.containerEvent(pod, c, corev1.EventTypeWarning, events.BackOff, "Back-off restarting failed container %s in pod %s_%s(%s)",
			c.Name, pod.Name, pod.Namespace, pod.UID)
		return wait
	}
	w.backoff.restarted(c.Name)
	w.removeOlderAttempts(ctx, pod, c.Name, exited.Attempt)
	return w.start(ctx, pod, c, exited.Attempt+1)
}

// start pulls c's image and starts attempt of it. A failure is shown as c's waiting
// reason and retried after a back-off, whose remainder it returns.
func (w *Worker) start(ctx context.Context, pod *corev1alpha1.Pod, c *corev1.Container, attempt int32) time.Duration {
	img, err := w.env.Runtime.EnsureImage(ctx, c.Image, c.ImagePullPolicy, func() {
		w.containerEvent(pod, c, corev1.EventTypeNormal, events.Pulling, "Pulling image %q", c.Image)
	})
	if err != nil {
		w.waiting[c.Name] = imageReason(err, w.waiting[c.Name])
		w.imageFailedEvents(pod, c, err, w.waiting[c.Name])
		return backoffInitial
	}
	w.pulledEvent(pod, c, img.Pull)
	imageID := img.ID
	env, err := containerEnv(ctx, envInput{reader: w.env.Client, hostIP: w.env.HostIP, allocatable: w.env.Allocatable, services: w.env.ServiceEnv}, pod, c)
	if err != nil {
		return w.failedStart(pod, c, reason{ReasonCreateContainerConfigErr, err.Error()})
	}
	mounts, err := w.mounts(pod, c)
	if err != nil {
		return w.failedStart(pod, c, reason{ReasonCreateContainerConfigErr, err.Error()})
	}
	spec := runtime.ContainerSpec{Name: c.Name, Attempt: attempt, Image: c.Image, ImageID: imageID, Command: expandAll(c.Command, env), Args: expandAll(c.Args, env),
		WorkingDir: c.WorkingDir, Env: env, Hostname: hostname(pod), LogPath: LogPath(w.env.LogDir, pod, c.Name, attempt), Mounts: mounts,
		Resources: containerResources(pod, c, w.env.Allocatable.Memory().Value()), Security: containerSecurity(pod, c)}
	// As upstream's kubelet: pod as name_namespace(uid) in the messages of runAsNonRoot.
	podDesc := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
	if s := spec.Security; s.RunAsNonRoot && s.RunAsUser != nil && *s.RunAsUser == 0 {
		return w.failedStart(pod, c, reason{ReasonCreateContainerConfigErr, fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podDesc, c.Name)})
	}
	id, err := w.env.Runtime.StartContainer(ctx, podRef(pod), spec)
	if errors.Is(err, runtime.ErrRunAsRoot) {
		return w.failedStart(pod, c, reason{ReasonCreateContainerConfigErr, fmt.Sprintf("%s (pod: %q, container: %s)", runtime.ErrRunAsRoot, podDesc, c.Name)})
	}
	if err != nil {
		return w.failedStart(pod, c, reason{ReasonCreateContainerErr, err.Error()})
	}
	// The runtime creates and starts in one call: both events follow it, in the kubelet's
	// order.
	w.containerEvent(pod, c, corev1.EventTypeNormal, events.Created, "Created container: %s", c.Name)
	w.containerEvent(pod, c, corev1.EventTypeNormal, events.Started, "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := w.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, postStartTimeout); err != nil {
			// As upstream: a container whose postStart hook failed is killed, and restarts
			// as its restart policy says. Its events leave out the hook's output, which may
			// hold secrets.
			w.log.Info("PostStart hook failed; killing the container", "container", c.Name, "error", err.Error())
			w.killed[id] = "PostStartHookError: " + err.Error()
			w.containerEvent(pod, c, corev1.EventTypeWarning, events.FailedPostStartHook, "PostStartHook failed")
			w.containerEvent(pod, c, corev1.EventTypeNormal, events.Killing, "FailedPostStartHook")
			if err := w.stopInstance(ctx, pod, c, id, gracePeriod(pod)); err != nil {
				w.log.Error(err, "Killing container", "container", c.Name)
			}
			return 0
		}
	}
	w.log.V(1).Info("Started container", "container", c.Name, "attempt", attempt)
	delete(w.waiting, c.Name)
	return 0
}

// failedStart shows why c could not be created as its waiting reason and in a Failed
// event, as the kubelet's "Error: ..."; it returns the back-off before the next try.
func (w *Worker) failedStart(pod *corev1alpha1.Pod, c *corev1.Container, why reason) time.Duration {
	w.waiting[c.Name] = why
	w.containerEvent(pod, c, corev1.EventTypeWarning, events.Failed, "Error: %s", why.message)
	return backoffInitial
}

// imageReason is ErrImagePull for a first failed pull and ImagePullBackOff for the
// ones after, with the registry's message.
func imageReason(err error, previous reason) reason {
	if errors.Is(err, runtime.ErrImageNeverPull) {
		return reason{ReasonErrImageNeverPull, err.Error()}
	}
	if previous.reason == ReasonErrImagePull || previous.reason == ReasonImagePullBackOff {
		return reason{ReasonImagePullBackOff, previous.message}
	}
	return reason{ReasonErrImagePull, err.Error()}
}

// gracePeriod is the pod's terminationGracePeriodSeconds; none is no grace.
func gracePeriod(pod *corev1alpha1.Pod) time.Duration {
	if pod.Spec.TerminationGracePeriodSeconds == nil {
		return 0
	}
	return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
}

// hostname is the host name a pod's containers see, as the kubelet gives it: spec.hostname
// when set, else the pod's name, cut to the 63 characters of a DNS label without a
// trailing '-' or '.'; none of its own for a pod on the host's network.
func hostname(pod *corev1alpha1.Pod) string {
	if pod.Spec.HostNetwork {
		// The container shares the host's UTS namespace and name.
		return ""
	}
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}
