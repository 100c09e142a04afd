package specvalidation

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWithCondition(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 500, time.UTC)
	invalid := func(message, at string) map[string]any {
		return map[string]any{"type": ConditionReplicaFailure, "status": "True", "reason": ReasonInvalidSpec, "message": message, "lastTransitionTime": at}
	}
	failedCreate := map[string]any{"type": ConditionReplicaFailure, "status": "True", "reason": "FailedCreate", "message": "quota"}
	available := map[string]any{"type": "Available", "status": "True"}
	cases := []struct {
		name       string
		conditions []any
		message    string
		want       []any
	}{
		{"refused, no conditions: set, at the second", nil, "bad", []any{invalid("bad", "2026-12-02T10:00:00Z")}},
		{"refused again with the same message: kept as it was", []any{available, invalid("bad", "2026-12-01T00:00:00Z")}, "bad",
			[]any{available, invalid("bad", "2026-12-01T00:00:00Z")}},
		{"refused with another message: replaced", []any{invalid("old", "2026-12-01T00:00:00Z")}, "new",
			[]any{invalid("new", "2026-12-02T10:00:00Z")}},
		{"refused while a create failed: one ReplicaFailure, the refusal", []any{failedCreate, available}, "bad",
			[]any{available, invalid("bad", "2026-12-02T10:00:00Z")}},
		{"valid again: the refusal goes, the rest stays", []any{available, invalid("bad", "2026-12-01T00:00:00Z")}, "", []any{available}},
		{"valid: another ReplicaFailure is not ours to remove", []any{failedCreate}, "", []any{failedCreate}},
		{"valid, no conditions: none", nil, "", []any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, withCondition(tc.conditions, tc.message, now)); diff != "" {
				t.Errorf("withCondition (-want +got):\n%s", diff)
			}
		})
	}
}
