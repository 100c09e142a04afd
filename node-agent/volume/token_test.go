package volume

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// tokenAPI answers TokenRequests with tokens numbered in order, valid for what was asked,
// and records the requests; fail makes it refuse them.
type tokenAPI struct {
	clock    *testingclock.FakeClock
	requests []*authenticationv1.TokenRequest
	accounts []string
	fail     bool
}

func (a *tokenAPI) client(t *testing.T) client.Client {
	scheme := k8sruntime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceCreate: func(_ context.Context, _ client.Client, sub string, obj client.Object, body client.Object, _ ...client.SubResourceCreateOption) error {
			if sub != "token" {
				return fmt.Errorf("unexpected subresource %s", sub)
			}
			if a.fail {
				return errors.New("apiserver unavailable")
			}
			req := body.(*authenticationv1.TokenRequest)
			a.requests = append(a.requests, req.DeepCopy())
			a.accounts = append(a.accounts, obj.GetNamespace()+"/"+obj.GetName())
			req.Status.Token = fmt.Sprintf("token-%d", len(a.requests))
			req.Status.ExpirationTimestamp = metav1.NewTime(a.clock.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second))
			return nil
		},
	}).Build()
}

func tokenPod(account string, expiration *int64, audience string) *corev1alpha1.Pod {
	return &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"},
		Spec: corev1.PodSpec{ServiceAccountName: account, Volumes: []corev1.Volume{{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: expiration, Audience: audience}}}}}}}}}
}

func TestServiceAccountTokenIsRenewedAt80PercentOfItsLifetime(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Unix(1_000_000, 0))
	api := &tokenAPI{clock: clock}
	m := &Manager{Root: t.TempDir(), Client: api.client(t), Clock: clock}
	pod := tokenPod("reader", ptr.To[int64](3607), "")
	tokenAt := func() string {
		t.Helper()
		paths, err := m.Setup(context.Background(), pod)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, filepath.Join(paths["kube-api-access-abcde"], "token"))
	}

	if got := tokenAt(); got != "token-1" {
		t.Fatalf("first token = %q, want token-1", got)
	}
	if len(api.requests) != 1 || api.accounts[0] != "ns/reader" || *api.requests[0].Spec.ExpirationSeconds != 3607 ||
		api.requests[0].Spec.Audiences != nil || api.requests[0].Spec.BoundObjectRef != nil {
		t.Fatalf("requests = %v %+v, want one for ns/reader, 3607 s, the apiserver's audiences", api.accounts, api.requests)
	}
	clock.Step(2885 * time.Second) // Just under 80% of 3607 s.
	if got := tokenAt(); got != "token-1" || len(api.requests) != 1 {
		t.Fatalf("before 80%% of its lifetime: token %q after %d requests, want token-1 after 1", got, len(api.requests))
	}
	clock.Step(2 * time.Second)
	if got := tokenAt(); got != "token-2" {
		t.Fatalf("after 80%% of its lifetime: token %q, want a new one, token-2", got)
	}

	api.fail = true
	clock.Step(2887 * time.Second)
	if got := tokenAt(); got != "token-2" {
		t.Fatalf("a failed renewal of a valid token: token %q, want the old one kept", got)
	}
	clock.Step(time.Hour)
	if _, err := m.Setup(context.Background(), pod); err == nil {
		t.Fatal("an expired token that cannot be renewed was kept")
	}

	api.fail = false
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if got := tokenAt(); got != fmt.Sprintf("token-%d", len(api.requests)) || len(m.tokens.byKey) != 1 {
		t.Fatalf("after the pod's teardown: token %q, %d cached, want a new one only", got, len(m.tokens.byKey))
	}
}

func TestServiceAccountTokenRequest(t *testing.T) {
	cases := []struct {
		name              string
		account, audience string
		expiration        *int64
		wantAccount       string
		wantExpiration    int64
		wantAudiences     []string
		wantErr           string
	}{
		{"no account is default's, an hour", "", "", nil, "ns/default", 3600, nil, ""},
		{"an audience is asked for", "reader", "vault", ptr.To[int64](600), "ns/reader", 600, []string{"vault"}, ""},
		{"less than ten minutes is refused", "reader", "", ptr.To[int64](599), "", 0, nil, "expirationSeconds 599 is below 600"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testingclock.NewFakeClock(time.Unix(1_000_000, 0))
			api := &tokenAPI{clock: clock}
			m := &Manager{Root: t.TempDir(), Client: api.client(t), Clock: clock}
			_, err := m.Setup(context.Background(), tokenPod(tc.account, tc.expiration, tc.audience))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Setup = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(api.requests) != 1 || api.accounts[0] != tc.wantAccount || *api.requests[0].Spec.ExpirationSeconds != tc.wantExpiration ||
				fmt.Sprint(api.requests[0].Spec.Audiences) != fmt.Sprint(tc.wantAudiences) {
				t.Fatalf("requests = %v %+v, want %s for %d s, audiences %v", api.accounts, api.requests, tc.wantAccount, tc.wantExpiration, tc.wantAudiences)
			}
		})
	}
}
