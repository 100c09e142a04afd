package specvalidation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

const (
	// ReasonInvalidSpec is the reason of the Warning event and of the condition that a
	// controller gives an object it refuses.
	ReasonInvalidSpec = "InvalidSpec"
	// ConditionReplicaFailure is the condition a refused object carries, True with reason
	// InvalidSpec: upstream's ReplicaFailure of ReplicaSets and Deployments, which kybern's
	// DaemonSets, StatefulSets and Jobs carry too, as they create no pod while refused.
	ConditionReplicaFailure = "ReplicaFailure"
)

// Guard tells whether upstream's validation refuses obj. When it does, the caller creates
// and deletes nothing for obj until it is fixed, as retrying cannot help: Guard records a
// Warning event naming the fields and, for a kind whose status has conditions, sets
// ReplicaFailure=True with reason InvalidSpec. When obj is valid, it removes such a
// condition an earlier refusal left. A condition written through c updates obj in place,
// so the caller's later status write carries the new resourceVersion.
func Guard(ctx context.Context, c client.Client, rec record.EventRecorder, obj client.Object, now time.Time) (bool, error) {
	errs, _, err := Validate(obj, nil)
	if err != nil {
		return false, err
	}
	message := ""
	if len(errs) > 0 {
		message = fmt.Sprintf("%s: nothing is done for it until it is fixed", errs.ToAggregate())
		rec.Event(obj, corev1.EventTypeWarning, ReasonInvalidSpec, message)
	}
	if err := syncCondition(ctx, c, obj, message, now); err != nil {
		return len(errs) > 0, fmt.Errorf("writing the %s condition of %s: %w", ConditionReplicaFailure, client.ObjectKeyFromObject(obj), err)
	}
	return len(errs) > 0, nil
}

// syncCondition makes obj's status carry ReplicaFailure=True/InvalidSpec with message,
// or, with an empty message, not carry it. It writes only when that changes anything, with
// the resourceVersion read, so a newer status is never overwritten. Kinds without status
// conditions (CronJob) are left alone.
func syncCondition(ctx context.Context, c client.Client, obj client.Object, message string, now time.Time) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	status, _, _ := unstructured.NestedMap(u, "status")
	if status == nil {
		status = map[string]any{}
	}
	conditions, _, _ := unstructured.NestedSlice(status, "conditions")
	if _, has := status["conditions"]; !has && !hasConditions(obj) {
		return nil
	}
	updated := withCondition(conditions, message, now)
	if apiequality.Semantic.DeepEqual(conditions, updated) {
		return nil
	}
	status["conditions"] = updated
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": obj.GetResourceVersion()},
		"status":   status,
	})
	if err != nil {
		return err
	}
	return c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
}

// withCondition is conditions with ReplicaFailure=True/InvalidSpec set to message, in
// place of any other ReplicaFailure (a refused object creates nothing, so no other failure
// stands), or, when message is empty, without the InvalidSpec one.
func withCondition(conditions []any, message string, now time.Time) []any {
	out := make([]any, 0, len(conditions)+1)
	for _, raw := range conditions {
		cond, _ := raw.(map[string]any)
		switch {
		case cond["type"] != ConditionReplicaFailure:
			out = append(out, raw)
		case message == "":
			if cond["reason"] != ReasonInvalidSpec {
				out = append(out, raw)
			}
		case cond["reason"] == ReasonInvalidSpec && cond["message"] == message && cond["status"] == string(corev1.ConditionTrue):
			out = append(out, raw)
			message = ""
		}
	}
	if message == "" {
		return out
	}
	return append(out, map[string]any{
		"type":               ConditionReplicaFailure,
		"status":             string(corev1.ConditionTrue),
		"reason":             ReasonInvalidSpec,
		"message":            message,
		"lastTransitionTime": now.UTC().Truncate(time.Second).Format(time.RFC3339),
	})
}

// hasConditions tells whether obj's kind has status conditions.
func hasConditions(obj client.Object) bool {
	_, cronJob := obj.(*batchv1alpha1.CronJob)
	return !cronJob
}
