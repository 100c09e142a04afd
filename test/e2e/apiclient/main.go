// Command apiclient is what the e2e suite runs inside a pod to show that the pod reaches
// the apiserver as its service account, the way client-go's in-cluster configuration
// does: the address from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the
// server verified with ca.crt, the bearer token and namespace from the service account
// volume. It prints one line per request: who the token is (a SelfSubjectReview), the
// ConfigMap named by its first argument, and the status of a read of the Secret named by
// its second.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const dir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: apiclient <configmap> <secret>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run(configMap, secret string) error {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return fmt.Errorf("KUBERNETES_SERVICE_HOST=%q KUBERNETES_SERVICE_PORT=%q: not in a pod", host, port)
	}
	token, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		return err
	}
	namespace, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return fmt.Errorf("%s/ca.crt holds no certificate", dir)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	base := "https://" + net.JoinHostPort(host, port)
	fmt.Printf("apiserver %s\n", base)
	do := func(method, path string, body []byte) (int, []byte, error) {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp.StatusCode, data, err
	}

	code, data, err := do(http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	if err != nil {
		return err
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(data, &review); err != nil {
		return fmt.Errorf("selfsubjectreview %d: %s", code, data)
	}
	fmt.Printf("user %s\n", review.Status.UserInfo.Username)

	ns := strings.TrimSpace(string(namespace))
	code, data, err = do(http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps/"+configMap, nil)
	if err != nil {
		return err
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if code != http.StatusOK || json.Unmarshal(data, &cm) != nil {
		fmt.Printf("configmap %s: %d\n", configMap, code)
	} else {
		for k, v := range cm.Data {
			fmt.Printf("configmap %s: %s=%s\n", configMap, k, v)
		}
	}
	code, _, err = do(http.MethodGet, "/api/v1/namespaces/"+ns+"/secrets/"+secret, nil)
	if err != nil {
		return err
	}
	fmt.Printf("secret %s: %d\n", secret, code)
	return nil
}
