package clusterca

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// BootstrapGroup is the extra group of the tokens JoinKubeconfig makes; the RBAC in
// config/rbac/node-agent lets it ask for node client certificates.
const BootstrapGroup = "system:bootstrappers:kybern"

// JoinKubeconfig makes a bootstrap token valid for ttl, as `kubeadm token create` does
// (a Secret bootstrap-token-<id> in kube-system, for authentication, in BootstrapGroup),
// and returns a kubeconfig for admin's apiserver that authenticates with it: what a node
// agent's --bootstrap-kubeconfig takes.
func JoinKubeconfig(ctx context.Context, admin *rest.Config, ttl time.Duration) ([]byte, error) {
	id, err := randomString(6)
	if err != nil {
		return nil, err
	}
	secret, err := randomString(16)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	token := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "bootstrap-token-" + id},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
			"auth-extra-groups": BootstrapGroup, "expiration": time.Now().Add(ttl).UTC().Format(time.RFC3339),
			"description": "kybern node agent bootstrap token",
		},
	}
	if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, token, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating the bootstrap token: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kybern"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData}
	cfg.AuthInfos["bootstrap"] = &clientcmdapi.AuthInfo{Token: id + "." + secret}
	cfg.Contexts["bootstrap"] = &clientcmdapi.Context{Cluster: "kybern", AuthInfo: "bootstrap"}
	cfg.CurrentContext = "bootstrap"
	return clientcmd.Write(*cfg)
}

// randomString is n characters of [a-z0-9], a bootstrap token's alphabet.
func randomString(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}
