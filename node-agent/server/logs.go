package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
)

// containerLogs serves GET /containerLogs/<namespace>/<pod>/<container> with
// PodLogOptions' query parameters (follow, previous, timestamps, tailLines, sinceSeconds,
// sinceTime, limitBytes), as the kubelet does.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	opts, previous, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, err)
		return
	}
	pod, err := s.pod(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	name := r.PathValue("container")
	instances, err := s.instances(r.Context(), pod, name)
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := pick(instances, pod, name, previous)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	path := podworker.LogPath(s.LogDir, pod, name, c.Attempt)
	running := func() bool { return s.isRunning(r.Context(), pod, c.ID) }
	if err := copyLog(r.Context(), path, opts, flushWriter{w}, running); err != nil && !errors.Is(err, context.Canceled) {
		s.Log.Error(err, "Reading container logs", "pod", pod.Namespace+"/"+pod.Name, "container", name)
	}
}

// pick is the instance whose log is asked for: the newest, or with previous the one
// before it, as the kubelet's messages say when there is none.
func pick(instances []runtime.Container, pod *corev1alpha1.Pod, name string, previous bool) (runtime.Container, error) {
	switch {
	case previous && len(instances) < 2:
		return runtime.Container{}, badRequest("previous terminated container %q in pod %q not found", name, pod.Name)
	case previous:
		return instances[1], nil
	case len(instances) == 0:
		return runtime.Container{}, badRequest("container %q in pod %q is waiting to start", name, pod.Name)
	}
	return instances[0], nil
}

func (s *Server) isRunning(ctx context.Context, pod *corev1alpha1.Pod, id string) bool {
	all, err := s.Runtime.PodContainers(ctx, pod.UID)
	if err != nil {
		return true
	}
	for _, c := range all {
		if c.ID == id {
			return c.State == runtime.StateRunning
		}
	}
	return false
}

// parseLogOptions reads PodLogOptions from q with upstream's validation: tailLines and
// limitBytes not negative or zero where upstream refuses them, at most one of
// sinceSeconds and sinceTime.
func parseLogOptions(q url.Values, now time.Time) (LogOptions, bool, error) {
	var o LogOptions
	var err error
	boolean := func(key string) bool {
		if err != nil || !q.Has(key) {
			return false
		}
		var v bool
		if v, err = strconv.ParseBool(q.Get(key)); err != nil {
			err = badRequest("%s=%q: must be true or false", key, q.Get(key))
		}
		return v
	}
	integer := func(key string, least int64) *int64 {
		if err != nil || !q.Has(key) {
			return nil
		}
		v, perr := strconv.ParseInt(q.Get(key), 10, 64)
		if perr != nil || v < least {
			err = badRequest("%s=%q: must be an integer of at least %d", key, q.Get(key), least)
			return nil
		}
		return &v
	}
	o.Follow = boolean("follow")
	previous := boolean("previous")
	o.Timestamps = boolean("timestamps")
	o.TailLines = integer("tailLines", 0)
	o.LimitBytes = integer("limitBytes", 1)
	sinceSeconds := integer("sinceSeconds", 1)
	if err != nil {
		return o, false, err
	}
	if q.Has("sinceTime") {
		if sinceSeconds != nil {
			return o, false, badRequest("at most one of sinceTime or sinceSeconds may be specified")
		}
		t, perr := time.Parse(time.RFC3339, q.Get("sinceTime"))
		if perr != nil {
			return o, false, badRequest("sinceTime=%q: must be an RFC 3339 time", q.Get("sinceTime"))
		}
		o.Since = &t
	}
	if sinceSeconds != nil {
		t := now.Add(-time.Duration(*sinceSeconds) * time.Second)
		o.Since = &t
	}
	return o, previous, nil
}

// flushWriter sends each write at once, so that a follower sees lines as they come.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
