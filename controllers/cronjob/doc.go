// Package cronjob is the CronJob controller: it starts a Job for each time a CronJob's
// cron schedule comes, as kube-controller-manager's does for batch/v1 (its "v2"
// controller), with our batch.kybern.io Jobs.
//
// Each reconcile deletes the oldest finished Jobs beyond the history limits, brings
// status.active up to date with the Jobs the CronJob controls, and then starts the Job for
// the latest schedule time that has come and was not yet run, within
// spec.startingDeadlineSeconds and as spec.concurrencyPolicy allows (Forbid skips while a
// Job is active, Replace deletes the active ones first). Missed times are not made up one
// by one: only the latest runs. Jobs are named after their schedule time in minutes, so a
// retry finds the Job it made before. The status is written once, and the reconcile comes
// back by RequeueAfter at the next schedule time, read from an injected clock.
package cronjob
