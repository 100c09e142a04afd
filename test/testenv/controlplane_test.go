package testenv

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A restarted control plane serves the objects stored before it stopped, to the clients and
// kubeconfig made before, and nothing while it is down.
func TestRestartControlPlane(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	e, err := Start(t.TempDir())
	g.Expect(err).NotTo(gomega.HaveOccurred())
	t.Cleanup(func() { g.Expect(e.Stop()).To(gomega.Succeed()) })
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kept"}, Data: map[string]string{"k": "v"}}
	g.Expect(e.Client.Create(ctx, cm)).To(gomega.Succeed())
	serving := func() string { return e.env.ControlPlane.APIServer.SecureServing.URL("https", "").Host }
	addr := serving()

	g.Expect(e.RestartControlPlane(func() {
		g.Expect(e.Client.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})).NotTo(gomega.Succeed(), "the apiserver still serves")
	})).To(gomega.Succeed())

	g.Expect(serving()).To(gomega.Equal(addr), "the apiserver moved")
	got := &corev1.ConfigMap{}
	g.Expect(e.Client.Get(ctx, client.ObjectKeyFromObject(cm), got)).To(gomega.Succeed())
	g.Expect(got.UID).To(gomega.Equal(cm.UID))
	g.Expect(got.Data).To(gomega.Equal(cm.Data))
	out, err := e.Kubectl(ctx, "get", "configmap", "kept", "-o", "jsonpath={.metadata.uid}")
	g.Expect(err).NotTo(gomega.HaveOccurred(), out)
	g.Expect(out).To(gomega.Equal(string(cm.UID)))
}
