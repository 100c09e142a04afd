package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kybern/kybern/test/testenv/clusterca"
)

// tokenTTL is how long a bootstrap token join makes stays valid: long enough for a node
// to join, not a credential to keep.
const tokenTTL = 24 * time.Hour

// join writes st's bootstrap kubeconfig for a node agent to join the cluster kubeconfig
// names (the local control plane's by default) with, unless the one there still holds
// a live token for that apiserver, at the address and with the CA it has now (the local
// control plane listens on another port at each start).
func join(ctx context.Context, st state, kubeconfig string) error {
	admin, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig=%s: %w", kubeconfig, err)
	}
	if live, err := tokenLive(ctx, st, admin); err != nil || live {
		return err
	}
	data, err := clusterca.JoinKubeconfig(ctx, admin, tokenTTL)
	if err != nil {
		return err
	}
	return os.WriteFile(st.bootstrapKubeconfig(), data, 0o600)
}

// tokenLive tells whether st's bootstrap kubeconfig holds a token whose Secret is there
// and not expired.
func tokenLive(ctx context.Context, st state, admin *rest.Config) (bool, error) {
	cfg, err := clientcmd.LoadFromFile(st.bootstrapKubeconfig())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, c := range cfg.Clusters {
		if c.Server != admin.Host || !bytes.Equal(c.CertificateAuthorityData, admin.CAData) {
			return false, nil
		}
	}
	var token string
	for _, auth := range cfg.AuthInfos {
		token = auth.Token
	}
	if len(token) != 23 {
		return false, nil
	}
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return false, err
	}
	secret, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, "bootstrap-token-"+token[:6], metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	expires, err := time.Parse(time.RFC3339, string(secret.Data["expiration"]))
	return err == nil && time.Until(expires) > time.Hour && string(secret.Data["token-secret"]) == token[7:], nil
}
