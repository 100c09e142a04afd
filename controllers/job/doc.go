// Package job is the Job controller: it runs a Job's pods until enough of them succeed,
// as upstream's does. Parallelism and completions, NonIndexed and Indexed completion,
// backoffLimit with exponential pod-creation backoff, backoffLimitPerIndex and
// maxFailedIndexes, podFailurePolicy, successPolicy, activeDeadlineSeconds, suspend,
// podReplacementPolicy and ttlSecondsAfterFinished.
//
// Every pod is created with the batch.kubernetes.io/job-tracking finalizer. A finished
// pod is first recorded by UID in status.uncountedTerminatedPods, then loses its
// finalizer, and only then moves into the succeeded or failed counters: a pod deleted
// at any moment, or a controller that stops between two steps, neither loses a pod nor
// counts it twice.
package job
