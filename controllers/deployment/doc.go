// Package deployment is the Deployment controller: it rolls a pod template out through
// ReplicaSets as kube-controller-manager's does for apps/v1.
//
// A Deployment owns one ReplicaSet per template it has run, named
// <deployment>-<pod-template-hash>. The "new" ReplicaSet is the one whose template equals
// the Deployment's (ignoring the hash label); all others are "old". A rolling update grows
// the new one and shrinks the old ones within maxSurge and maxUnavailable (rolling.go), a
// recreate empties the old ones before growing the new one (recreate.go), a replica change
// mid-rollout is spread over all of them in proportion (sync.go), and progress.go keeps
// the Progressing and Available conditions. The surge, unavailability and proportion
// arithmetic lives in math.go; the revision and replica annotations upstream's tools read
// on ReplicaSets, in revision.go.
package deployment
