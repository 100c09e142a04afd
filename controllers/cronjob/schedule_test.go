package cronjob

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

// at is a time on 2026-03-02 (a Monday) in UTC, from "15:04:05".
func at(clock string) time.Time {
	t, err := time.Parse(time.DateTime, "2026-03-02 "+clock)
	if err != nil {
		panic(err)
	}
	return t
}

// cronJob is a CronJob named "backup" created at created, in UTC.
func cronJob(schedule string, created time.Time) *batchv1alpha1.CronJob {
	cj := &batchv1alpha1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: "ns",
		CreationTimestamp: metav1.NewTime(created)}}
	cj.Spec.Schedule = schedule
	cj.Spec.TimeZone = ptr.To("Etc/UTC")
	return cj
}

func TestParseSchedule(t *testing.T) {
	cases := []struct {
		name, schedule string
		timeZone       *string
		from, want     time.Time
		wantReason     string
	}{
		{"five fields, every 15 minutes", "*/15 * * * *", nil, at("10:01:00"), at("10:15:00"), ""},
		{"@hourly", "@hourly", nil, at("10:01:00"), at("11:00:00"), ""},
		{"@daily", "@daily", nil, at("10:01:00"), at("00:00:00").AddDate(0, 0, 1), ""},
		{"@midnight is @daily", "@midnight", nil, at("10:01:00"), at("00:00:00").AddDate(0, 0, 1), ""},
		{"@weekly is Sunday midnight", "@weekly", nil, at("10:01:00"), at("00:00:00").AddDate(0, 0, 6), ""},
		{"@monthly", "@monthly", nil, at("10:01:00"), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), ""},
		{"@yearly", "@yearly", nil, at("10:01:00"), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"@annually is @yearly", "@annually", nil, at("10:01:00"), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"09:00 in Tokyo (UTC+9) is 00:00 UTC", "0 9 * * *", ptr.To("Asia/Tokyo"), at("10:01:00"), at("00:00:00").AddDate(0, 0, 1), ""},
		{"TZ= in the schedule is refused", "TZ=UTC 0 * * * *", nil, time.Time{}, time.Time{}, "UnsupportedSchedule"},
		{"CRON_TZ= in the schedule is refused", "CRON_TZ=UTC 0 * * * *", nil, time.Time{}, time.Time{}, "UnsupportedSchedule"},
		{"four fields cannot be parsed", "0 * * *", nil, time.Time{}, time.Time{}, "UnparseableSchedule"},
		{"minute 61 cannot be parsed", "61 * * * *", nil, time.Time{}, time.Time{}, "UnparseableSchedule"},
		{"an unknown time zone", "0 * * * *", ptr.To("Mars/Olympus"), time.Time{}, time.Time{}, "UnknownTimeZone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob(tc.schedule, at("00:00:00"))
			if tc.timeZone != nil {
				cj.Spec.TimeZone = tc.timeZone
			}
			sched, err := parseSchedule(cj)
			if tc.wantReason != "" {
				var se *scheduleError
				if !errors.As(err, &se) || se.Reason != tc.wantReason {
					t.Fatalf("err = %v; want a scheduleError with reason %s", err, tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sched.Next(tc.from); !got.Equal(tc.want) {
				t.Fatalf("next after %s = %s; want %s", tc.from, got, tc.want)
			}
		})
	}
}

func TestMostRecentScheduleTime(t *testing.T) {
	cases := []struct {
		name         string
		schedule     string
		created      time.Time
		lastSchedule *time.Time
		deadline     *int64
		now          time.Time
		want         *time.Time
		wantMissed   missedRuns
		wantErr      bool
	}{
		{"created 10:00:30, */1, now 10:00:50: nothing due yet", "*/1 * * * *", at("10:00:30"), nil, nil, at("10:00:50"), nil, noneMissed, false},
		{"created 10:00:30, */1, now 10:01:10: 10:01 due", "*/1 * * * *", at("10:00:30"), nil, nil, at("10:01:10"), ptr.To(at("10:01:00")), noneMissed, false},
		{"created 10:00:30, */1, now 10:05:10: 10:01..10:05 missed, latest 10:05", "*/1 * * * *", at("10:00:30"), nil, nil, at("10:05:10"), ptr.To(at("10:05:00")), fewMissed, false},
		{"last 10:00, */5, now 10:17: 10:05, 10:10, 10:15 missed", "*/5 * * * *", at("09:00:00"), ptr.To(at("10:00:00")), nil, at("10:17:00"), ptr.To(at("10:15:00")), fewMissed, false},
		{"last 10:00 is the latest: nothing due", "*/5 * * * *", at("09:00:00"), ptr.To(at("10:00:00")), nil, at("10:04:59"), nil, noneMissed, false},
		{"irregular 30 6-16/4 * * 1-5, last 06:30, now 15:00: 14:30", "30 6-16/4 * * 1-5", at("00:00:00"), ptr.To(at("06:30:00")), nil, at("15:00:00"), ptr.To(at("14:30:00")), fewMissed, false},
		{"hourly, last 10:00, now 11:30, deadline 600s: 11:00 too late", "0 * * * *", at("09:00:00"), ptr.To(at("10:00:00")), ptr.To[int64](600), at("11:30:00"), nil, noneMissed, false},
		{"hourly, last 10:00, now 11:30, deadline 3600s: 11:00 still in time", "0 * * * *", at("09:00:00"), ptr.To(at("10:00:00")), ptr.To[int64](3600), at("11:30:00"), ptr.To(at("11:00:00")), noneMissed, false},
		{"*/1 created 00:00:30, now 02:00:10: 120 missed is too many, latest 02:00", "*/1 * * * *", at("00:00:30"), nil, nil, at("02:00:10"), ptr.To(at("02:00:00")), manyMissed, false},
		{"*/1 created 00:00:30, now 01:41:10: 101 missed is too many", "*/1 * * * *", at("00:00:30"), nil, nil, at("01:41:10"), ptr.To(at("01:41:00")), manyMissed, false},
		{"*/1 created 00:00:30, now 01:40:10: 100 missed is not", "*/1 * * * *", at("00:00:30"), nil, nil, at("01:40:10"), ptr.To(at("01:40:00")), fewMissed, false},
		{"*/1 created 00:00:30, now 02:00:10, deadline 300s: the window holds 5", "*/1 * * * *", at("00:00:30"), nil, ptr.To[int64](300), at("02:00:10"), ptr.To(at("02:00:00")), fewMissed, false},
		{"31 February never comes", "0 0 31 2 *", at("00:00:00"), nil, nil, at("10:00:00"), nil, noneMissed, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob(tc.schedule, tc.created)
			if tc.lastSchedule != nil {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(*tc.lastSchedule))
			}
			cj.Spec.StartingDeadlineSeconds = tc.deadline
			sched, err := parseSchedule(cj)
			if err != nil {
				t.Fatal(err)
			}
			_, got, missed, err := mostRecentScheduleTime(cj, tc.now, sched, true)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v; want error %v", err, tc.wantErr)
			}
			if !ptr.Equal(got, tc.want) && (got == nil || tc.want == nil || !got.Equal(*tc.want)) {
				t.Fatalf("most recent = %v; want %v", got, tc.want)
			}
			if missed != tc.wantMissed {
				t.Fatalf("missed = %d; want %d", missed, tc.wantMissed)
			}
		})
	}
}

func TestNextRequeue(t *testing.T) {
	cases := []struct {
		name         string
		schedule     string
		created      time.Time
		lastSchedule *time.Time
		now          time.Time
		want         time.Duration
	}{
		{"created 10:00:30, */1, now 10:00:50: until 10:01 plus slack", "*/1 * * * *", at("10:00:30"), nil, at("10:00:50"), 10*time.Second + requeueSlack},
		{"just ran 10:00, hourly, now 10:00:20: until 11:00", "0 * * * *", at("09:00:00"), ptr.To(at("10:00:00")), at("10:00:20"), 59*time.Minute + 40*time.Second + requeueSlack},
		{"10:00..10:03 missed, */1, now 10:03:30: until 10:04", "*/1 * * * *", at("09:59:30"), nil, at("10:03:30"), 30*time.Second + requeueSlack},
		{"missed runs ignore the deadline: the next time is still 10:04", "*/1 * * * *", at("08:00:00"), ptr.To(at("09:00:00")), at("10:03:30"), 30*time.Second + requeueSlack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob(tc.schedule, tc.created)
			cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
			if tc.lastSchedule != nil {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(*tc.lastSchedule))
			}
			sched, err := parseSchedule(cj)
			if err != nil {
				t.Fatal(err)
			}
			if got := nextRequeue(cj, tc.now, sched); got != tc.want {
				t.Fatalf("requeue after %s; want %s", got, tc.want)
			}
		})
	}
}

func TestJobName(t *testing.T) {
	cj := cronJob("@hourly", at("00:00:00"))
	// 2026-03-02 10:00 UTC is 1772445600 s after the epoch: 29540760 minutes.
	if got, want := jobName(cj, at("10:00:00")), "backup-29540760"; got != want {
		t.Fatalf("jobName = %s; want %s", got, want)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if got, want := jobName(cj, at("10:00:00").In(tokyo)), "backup-29540760"; got != want {
		t.Fatalf("jobName in another zone = %s; want %s, the same instant", got, want)
	}
}
