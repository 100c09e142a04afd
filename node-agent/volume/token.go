package volume

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// Token lifetimes, as upstream's: a projection that states none asks for an hour, and
// the API refuses less than ten minutes. A token is renewed once 80% of its lifetime has
// passed, or after a day, as the kubelet's token manager does.
const (
	defaultTokenExpiration = 3600
	minTokenExpiration     = 600
	tokenMaxAge            = 24 * time.Hour
)

// tokens holds the service account tokens of the node's pods, requested through the
// TokenRequest API with the node's credential and kept until they are due for renewal.
type tokens struct {
	mu    sync.Mutex
	byKey map[tokenKey]token
	byPod map[types.UID][]tokenKey
}

// tokenKey is one projection's request: each pod gets tokens of its own.
type tokenKey struct {
	pod                          types.UID
	namespace, account, audience string
	expiration                   int64
}

type token struct {
	value              string
	issued, expiration time.Time
}

// due says whether t should be renewed at now.
func (t token) due(now time.Time) bool {
	lifetime := t.expiration.Sub(t.issued)
	return !now.Before(t.issued.Add(lifetime*8/10)) || !now.Before(t.issued.Add(tokenMaxAge))
}

// tokenFiles adds src's token, for pod's service account, at src.Path.
func (m *Manager) tokenFiles(ctx context.Context, pod *corev1alpha1.Pod, src *corev1.ServiceAccountTokenProjection, def fs.FileMode, files map[string]file) error {
	expiration := ptr.Deref(src.ExpirationSeconds, defaultTokenExpiration)
	if expiration < minTokenExpiration {
		return fmt.Errorf("serviceAccountToken expirationSeconds %d is below %d: ask for at least ten minutes", expiration, minTokenExpiration)
	}
	key := tokenKey{pod: pod.UID, namespace: pod.Namespace, account: cmp.Or(pod.Spec.ServiceAccountName, corev1alpha1.DefaultServiceAccountName),
		audience: src.Audience, expiration: expiration}
	t, err := m.token(ctx, key)
	if err != nil {
		return err
	}
	files[src.Path] = file{data: []byte(t.value), mode: def}
	return nil
}

// token is key's cached token, or a new one when there is none or it is due. A renewal
// that fails keeps the old token while it is valid.
func (m *Manager) token(ctx context.Context, key tokenKey) (token, error) {
	m.tokens.mu.Lock()
	cached, ok := m.tokens.byKey[key]
	m.tokens.mu.Unlock()
	now := m.Clock.Now()
	if ok && !cached.due(now) {
		return cached, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(key.expiration)}}
	if key.audience != "" {
		req.Spec.Audiences = []string{key.audience}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key.namespace, Name: key.account}}
	if err := m.Client.SubResource("token").Create(ctx, sa, req); err != nil {
		if ok && now.Before(cached.expiration) {
			return cached, nil
		}
		return token{}, fmt.Errorf("requesting a token for service account %s/%s: %w", key.namespace, key.account, err)
	}
	t := token{value: req.Status.Token, issued: now, expiration: req.Status.ExpirationTimestamp.Time}
	m.tokens.mu.Lock()
	defer m.tokens.mu.Unlock()
	if m.tokens.byKey == nil {
		m.tokens.byKey, m.tokens.byPod = map[tokenKey]token{}, map[types.UID][]tokenKey{}
	}
	if _, had := m.tokens.byKey[key]; !had {
		m.tokens.byPod[key.pod] = append(m.tokens.byPod[key.pod], key)
	}
	m.tokens.byKey[key] = t
	return t, nil
}

// forgetTokens drops the tokens of the pod with uid.
func (m *Manager) forgetTokens(uid types.UID) {
	m.tokens.mu.Lock()
	defer m.tokens.mu.Unlock()
	for _, key := range m.tokens.byPod[uid] {
		delete(m.tokens.byKey, key)
	}
	delete(m.tokens.byPod, uid)
}
