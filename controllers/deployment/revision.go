package deployment

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// Annotations and labels a Deployment puts on its ReplicaSets, as upstream's.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	PodTemplateHashLabel      = appsv1.DefaultDeploymentUniqueLabelKey
)

func intAnnotation(rs *appsv1alpha1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// revision is the revision annotation of rs, 0 when absent or malformed.
func revision(rs *appsv1alpha1.ReplicaSet) int64 {
	n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
