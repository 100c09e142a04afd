package volume

import (
	"context"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// objectsUnderTest are Objects over a fake clientset, whose direct reads are counted.
func objectsUnderTest(t *testing.T, objs ...k8sruntime.Object) (*Objects, *kubefake.Clientset, *atomic.Int32) {
	t.Helper()
	cs := kubefake.NewClientset(objs...)
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int32
	direct := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets.Add(1)
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	return &Objects{Client: cs, Direct: direct}, cs, &gets
}

// synced waits until every watch of o has its first list.
func synced(g Gomega, o *Objects) {
	g.Eventually(func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, w := range o.watches {
			if !w.synced() {
				return false
			}
		}
		return true
	}).Should(BeTrue())
}

func TestObjectsServeReadsFromOneWatchPerObject(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "settings"}, Data: map[string]string{"color": "blue"}}
	o, cs, gets := objectsUnderTest(t, settings)
	defer o.Release("pod-a")
	defer o.Release("pod-b")

	cm := &corev1.ConfigMap{}
	g.Expect(o.ConfigMap(ctx, "pod-a", "apps", "settings", cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("color", "blue"))
	g.Expect(o.ConfigMap(ctx, "pod-b", "apps", "settings", cm)).To(Succeed())
	g.Expect(o.Watching()).To(Equal(1), "two pods reading one object share its watch")
	synced(g, o)

	before := gets.Load()
	for range 100 {
		g.Expect(o.ConfigMap(ctx, "pod-a", "apps", "settings", &corev1.ConfigMap{})).To(Succeed())
	}
	g.Expect(gets.Load()).To(Equal(before), "a synced watch serves reads without asking the apiserver")

	settings.Data["color"] = "green"
	_, err := cs.CoreV1().ConfigMaps("apps").Update(ctx, settings, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() map[string]string {
		got := &corev1.ConfigMap{}
		g.Expect(o.ConfigMap(ctx, "pod-a", "apps", "settings", got)).To(Succeed())
		return got.Data
	}).Should(HaveKeyWithValue("color", "green"))

	g.Expect(cs.CoreV1().ConfigMaps("apps").Delete(ctx, "settings", metav1.DeleteOptions{})).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(o.ConfigMap(ctx, "pod-a", "apps", "settings", &corev1.ConfigMap{}))
	}).Should(BeTrue(), "a deleted object reads as not found, as a GET would")

	o.Release("pod-a")
	g.Expect(o.Watching()).To(Equal(1), "pod-b still reads it")
	o.Release("pod-b")
	g.Expect(o.Watching()).To(BeZero(), "the last pod's release stops the watch")
}

func TestObjectsStopWatchingAnImmutableObjectAndKeepServingIt(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "tls"}, Immutable: ptr.To(true), Data: map[string][]byte{"key": []byte("k")}}
	o, _, gets := objectsUnderTest(t, tls)
	defer o.Release("pod-a")

	g.Expect(o.Secret(ctx, "pod-a", "apps", "tls", &corev1.Secret{})).To(Succeed())
	synced(g, o)
	o.mu.Lock()
	w := o.watches[objectKey{secret: true, namespace: "apps", name: "tls"}]
	o.mu.Unlock()
	g.Eventually(w.stop).Should(BeClosed(), "an immutable object cannot change: its watch ends once it is seen")

	before := gets.Load()
	got := &corev1.Secret{}
	g.Expect(o.Secret(ctx, "pod-a", "apps", "tls", got)).To(Succeed())
	g.Expect(got.Data).To(HaveKeyWithValue("key", []byte("k")))
	g.Expect(gets.Load()).To(Equal(before))
}

func TestObjectsReadAMissingObjectAsNotFound(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	o, _, _ := objectsUnderTest(t)
	defer o.Release("pod-a")
	g.Expect(apierrors.IsNotFound(o.Secret(ctx, "pod-a", "apps", "absent", &corev1.Secret{}))).To(BeTrue())
	synced(g, o)
	g.Expect(apierrors.IsNotFound(o.Secret(ctx, "pod-a", "apps", "absent", &corev1.Secret{}))).To(BeTrue())
}
