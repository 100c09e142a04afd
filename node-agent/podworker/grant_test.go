package podworker

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kybern/kybern/node-agent/volume"
)

// TestVolumeRefusedForNowIsRetriedSoon: a Secret the node may not read yet (its grant
// follows the pod's binding by milliseconds) is asked for again after a second, where a
// Secret that does not exist waits the usual ten.
func TestVolumeRefusedForNowIsRetriedSoon(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forbidden bool
		want      time.Duration
	}{
		{"forbidden", true, time.Second},
		{"not found", false, backoffInitial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(corev1.RestartPolicyAlways, ctr("web", "httpd", "-f"))
			pod.Spec.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}}}
			r := newRig(t, pod)
			reader := interceptor.NewClient(r.api.(client.WithWatch), interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if _, secret := obj.(*corev1.Secret); secret && tc.forbidden {
						return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, nil)
					}
					return c.Get(ctx, key, obj, opts...)
				}})
			r.env.Volumes = &volume.Manager{Root: t.TempDir(), Client: reader, Clock: r.clock}
			if got := r.step(0); got != tc.want {
				t.Fatalf("retry in %s, want %s", got, tc.want)
			}
		})
	}
}
