package podutil

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/davecgh/go-spew/spew"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateHash names a pod template, as upstream's controller.ComputeHash: fnv-32a over a
// deterministic dump of it, salted with the collision count so that a name clash can be
// escaped, encoded with the letters Kubernetes uses for generated names. Deployments name
// their ReplicaSets with it and DaemonSets their ControllerRevisions.
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	printer := spew.ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true,
		DisablePointerAddresses: true, DisableCapacities: true}
	printer.Fprintf(h, "%#v", *t)
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
