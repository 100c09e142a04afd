package v1alpha1

import (
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RollbackPolicy turns on automatic rollback for a Deployment, StatefulSet or DaemonSet.
// When a trigger fires for the revision being rolled out, the controller rolls the
// workload back to status.rollback.stableRevision, within the strategy's own bounds
// (maxSurge, maxUnavailable, partition), without writing spec.template. The failed
// revision is not tried again until spec.template changes.
type RollbackPolicy struct {
	// triggers are the conditions that count a rollout as failed. Omitted, all three
	// triggers apply with their defaults; given, only the ones listed apply.
	// +optional
	Triggers *RollbackTriggers `json:"triggers,omitempty"`

	// maxFailedPods is how many pods of the revision being rolled out may be failing (crash
	// looping or not ready, as the triggers define) before the rollout is rolled back: a
	// number, or a percentage of that revision's desired pods, rounded down. Default 0: the
	// first failing pod rolls back.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",message="spec.rollbackPolicy.maxFailedPods must be a non-negative number or a percentage such as 25%",reason=FieldValueInvalid
	// +optional
	MaxFailedPods *intstr.IntOrString `json:"maxFailedPods,omitempty"`
}

// RollbackTriggers lists the conditions under which a rollout counts as failed. Each set
// trigger applies; an unset one does not.
type RollbackTriggers struct {
	// progressDeadline fires when the rollout exceeds spec.progressDeadlineSeconds (the
	// Progressing condition turns False, ProgressDeadlineExceeded). Deployments only.
	// +optional
	ProgressDeadline *ProgressDeadlineTrigger `json:"progressDeadline,omitempty"`

	// crashLoop counts a pod of the new revision as failing when one of its containers
	// restarted at least restarts times and last terminated within windowSeconds.
	// +optional
	CrashLoop *CrashLoopTrigger `json:"crashLoop,omitempty"`

	// notReady counts a pod of the new revision as failing when it has not been Ready for
	// longer than seconds, counted from its creation or from when it last became unready.
	// +optional
	NotReady *NotReadyTrigger `json:"notReady,omitempty"`
}

// ProgressDeadlineTrigger has no settings: the deadline is spec.progressDeadlineSeconds.
type ProgressDeadlineTrigger struct{}

// CrashLoopTrigger counts crash-looping pods.
type CrashLoopTrigger struct {
	// restarts is the restart count at which a container is crash looping. Default 3.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Restarts *int32 `json:"restarts,omitempty"`

	// windowSeconds is how recent the container's last termination must be. Default 600.
	// +kubebuilder:validation:Minimum=1
	// +optional
	WindowSeconds *int32 `json:"windowSeconds,omitempty"`
}

// NotReadyTrigger counts pods that stay unready.
type NotReadyTrigger struct {
	// seconds a pod may stay unready before it counts as failing. Default 300.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Seconds *int32 `json:"seconds,omitempty"`
}

// RollbackStatus is what automatic rollback remembers about a workload's revisions.
// A revision is named by the object that holds it: a Deployment's ReplicaSet, or a
// StatefulSet's or DaemonSet's ControllerRevision.
type RollbackStatus struct {
	// stableRevision is the last revision that was fully rolled out and available; a
	// rollback returns to it.
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`

	// failedRevision is the revision that was rolled back. While spec.template is that
	// revision's template, the workload keeps running stableRevision.
	// +optional
	FailedRevision string `json:"failedRevision,omitempty"`
}

// RolledBack is the condition type a workload carries while it runs its stable revision
// in place of spec.template's failed one. Its reason names the trigger and its message
// the two revisions.
const RolledBack = "RolledBack"

// Reasons of the RolledBack condition: the trigger that fired.
const (
	RollbackReasonProgressDeadline = "ProgressDeadlineExceeded"
	RollbackReasonCrashLoop        = "CrashLooping"
	RollbackReasonNotReady         = "NotReady"
)
