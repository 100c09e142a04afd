package admission

import (
	"github.com/prometheus/client_golang/prometheus"
	psaapi "k8s.io/pod-security-admission/api"
	psametrics "k8s.io/pod-security-admission/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// recorder counts Pod Security decisions on the manager's metrics endpoint, under
// upstream's metric names.
type recorder struct {
	evaluations, exemptions, errors *prometheus.CounterVec
}

func newRecorder() *recorder {
	r := &recorder{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pod_security_evaluations_total",
			Help: "Pod Security policy evaluations of kybern objects, by decision, level, mode and resource."},
			[]string{"decision", "policy_level", "mode", "request_operation", "resource"}),
		exemptions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pod_security_exemptions_total",
			Help: "Kybern objects exempt from Pod Security."}, []string{"request_operation", "resource"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pod_security_errors_total",
			Help: "Errors that kept Pod Security from evaluating a kybern object as configured."}, []string{"fatal", "request_operation", "resource"}),
	}
	for _, c := range []prometheus.Collector{r.evaluations, r.exemptions, r.errors} {
		// A second manager in one process (tests) finds the counters registered already.
		_ = metrics.Registry.Register(c)
	}
	return r
}

func (r *recorder) RecordEvaluation(d psametrics.Decision, level psaapi.LevelVersion, mode psametrics.Mode, attrs psaapi.Attributes) {
	r.evaluations.WithLabelValues(string(d), string(level.Level), string(mode), string(attrs.GetOperation()), attrs.GetResource().Resource).Inc()
}

func (r *recorder) RecordExemption(attrs psaapi.Attributes) {
	r.exemptions.WithLabelValues(string(attrs.GetOperation()), attrs.GetResource().Resource).Inc()
}

func (r *recorder) RecordError(fatal bool, attrs psaapi.Attributes) {
	label := "false"
	if fatal {
		label = "true"
	}
	r.errors.WithLabelValues(label, string(attrs.GetOperation()), attrs.GetResource().Resource).Inc()
}
