package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// requeueSlack is added to every wait for the next schedule time, so that a reconcile woken
// by RequeueAfter runs just after that time rather than a hair before it, which would find
// nothing to do (upstream pads by the same 100ms for clock skew).
const requeueSlack = 100 * time.Millisecond

// tooManyMissed is the number of unmet schedule times above which a CronJob is considered
// stuck (a long controller outage or a skewed clock): only the most recent time runs and a
// TooManyMissedTimes event says so. Upstream picked 100 as "more than the ~80 hourly runs of
// a long weekend".
const tooManyMissed = 100

// missedRuns says how many schedule times passed without a Job.
type missedRuns int

const (
	noneMissed missedRuns = iota
	fewMissed
	manyMissed
)

// scheduleError is a spec problem that retrying cannot fix: Reason is the event reason and
// Error names the field and the fix.
type scheduleError struct {
	Reason  string
	Message string
}

func (e *scheduleError) Error() string { return e.Message }

// timeZone resolves spec.timeZone; an unset time zone is the controller's local one, as
// upstream's. The error is a *scheduleError with reason UnknownTimeZone.
func timeZone(cj *batchv1alpha1.CronJob) (*time.Location, error) {
	if cj.Spec.TimeZone == nil {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(*cj.Spec.TimeZone)
	if err != nil {
		return nil, &scheduleError{Reason: "UnknownTimeZone", Message: fmt.Sprintf(
			"spec.timeZone %q is not a known time zone (%v): use an IANA name such as \"Europe/Paris\" or \"Etc/UTC\"",
			*cj.Spec.TimeZone, err)}
	}
	return loc, nil
}

// parseSchedule parses spec.schedule (five fields or a macro such as @hourly) in
// spec.timeZone. A TZ= or CRON_TZ= prefix inside the schedule is refused, as upstream's
// validation refuses it. Errors are *scheduleError.
func parseSchedule(cj *batchv1alpha1.CronJob) (cron.Schedule, error) {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		return nil, &scheduleError{Reason: "UnsupportedSchedule", Message: fmt.Sprintf(
			"spec.schedule %q sets a time zone with TZ= or CRON_TZ=, which is not supported: remove it and set spec.timeZone instead",
			cj.Spec.Schedule)}
	}
	loc, err := timeZone(cj)
	if err != nil {
		return nil, err
	}
	sched, err := cron.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		return nil, &scheduleError{Reason: "UnparseableSchedule", Message: fmt.Sprintf(
			"spec.schedule %q cannot be parsed (%v): use five fields \"minute hour day-of-month month day-of-week\" or a macro such as @hourly",
			cj.Spec.Schedule, err)}
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return sched, nil
}

// mostRecentScheduleTime looks at the schedule times after the last one that ran (or the
// CronJob's creation) and up to now. It returns where that window starts, the latest time
// in it (nil when none has come yet) and how many times were missed. withDeadline moves the
// window's start to now - spec.startingDeadlineSeconds when that is later, so that runs too
// late to start are not counted.
//
// The number of missed times is estimated from the interval between the first two times
// instead of walking every one, so a CronJob whose clock is decades behind costs no more
// than one that missed a single run. Example: "*/5 * * * *", last run 10:00, now 10:17:
// t1 = 10:05, interval 300 s, (10:17-10:05)/300 s = 2, +1 = 3 missed (10:05, 10:10,
// 10:15); the walk then starts one interval before the estimated first of them and finds
// 10:15 as the most recent.
func mostRecentScheduleTime(cj *batchv1alpha1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (time.Time, *time.Time, missedRuns, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		deadline := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second)
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, noneMissed, nil
	}
	if now.Before(t2) {
		return earliest, &t1, noneMissed, nil
	}
	// A schedule that parses but never fires, such as "0 0 31 2 *", yields zero times.
	interval := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if interval < 1 {
		return earliest, nil, noneMissed, errors.New("the schedule never fires (for example a day that no month has): fix spec.schedule")
	}
	missed := int64(now.Sub(t1).Seconds())/interval + 1
	var recent time.Time
	walkFrom := t1.Add(time.Duration((missed-2)*interval) * time.Second)
	for t := sched.Next(walkFrom); !t.After(now); t = sched.Next(t) {
		recent = t
	}
	kind := fewMissed
	if missed > tooManyMissed {
		kind = manyMissed
	}
	if recent.IsZero() {
		return earliest, nil, kind, nil
	}
	return earliest, &recent, kind, nil
}

// nextRequeue is how long to wait before the next schedule time after now, plus
// requeueSlack. It never counts the starting deadline: the next run is due whatever the
// deadline says about past ones.
func nextRequeue(cj *batchv1alpha1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	earliest, recent, missed, err := mostRecentScheduleTime(cj, now, sched, false)
	from := earliest
	switch {
	case err != nil, recent == nil && missed != noneMissed:
		from = now
	case recent != nil:
		from = *recent
	}
	return sched.Next(from).Add(requeueSlack).Sub(now)
}

// jobName names the Job for one schedule time: the CronJob's name and the time in minutes
// since the epoch, so that a retry after a lost status write finds the Job it already made
// instead of making a second one.
func jobName(cj *batchv1alpha1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
