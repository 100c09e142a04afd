package testenv

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// awaitNodeRestriction waits until the apiserver enforces config/cluster's policy
// kybern-node-restriction, which it loads a moment after it is applied: until a node
// identity's dry-run create of another node's Node is refused by it. The identity is also
// in system:masters, so that RBAC, which the suite may not have applied, lets it through.
func (e *Env) awaitNodeRestriction(ctx context.Context) error {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: corev1alpha1.NodeUser("policy-probe"), Groups: []string{corev1alpha1.NodeGroup, "system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: e.Client.Scheme()})
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		node := &corev1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "policy-probe-other"}}
		last = c.Create(ctx, node, client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "kybern-node-restriction"), nil
	})
	if err != nil {
		return fmt.Errorf("the apiserver does not enforce ValidatingAdmissionPolicy kybern-node-restriction (last answer: %v): %w", last, err)
	}
	return nil
}
