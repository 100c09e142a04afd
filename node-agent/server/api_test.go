package server_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
	"github.com/kybern/kybern/node-agent/runtime"
)

var _ = Describe("The node agent's API", func() {
	var ns string
	BeforeEach(func() {
		var err error
		ns, err = env.NewNamespace(ctx, "api")
		Expect(err).NotTo(HaveOccurred())
	})

	It("serves with a certificate the cluster issued for the node's name and address", func() {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(apiURL, "https://"), &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12})
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		Expect(leaf.Subject.CommonName).To(Equal("system:node:" + node))
		Expect(leaf.DNSNames).To(ConsistOf(node))
		Expect(leaf.IPAddresses).To(HaveLen(1))
		Expect(leaf.IPAddresses[0].String()).To(Equal("127.0.0.1"))

		csrs, err := admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		var approvals []string
		for _, csr := range csrs.Items {
			if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName && csr.Spec.Username == corev1alpha1.NodeUser(node) {
				for _, c := range csr.Status.Conditions {
					approvals = append(approvals, string(c.Type)+"/"+c.Reason)
				}
			}
		}
		Expect(approvals).To(ContainElement("Approved/AutoApproved"))
	})

	It("refuses anonymous callers and tokens for another audience, and forbids what RBAC does not grant", func() {
		p := boundPod(ns, "web", "app")
		rt.set(p.UID, runtime.Container{ID: "c1", Name: "app", State: runtime.StateRunning})
		writeLog(p, "app", 0, "hello")
		path := fmt.Sprintf("/containerLogs/%s/web/app", ns)

		code, _ := get(path, "")
		Expect(code).To(Equal(http.StatusUnauthorized))

		reader := account(ns, "reader", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}})
		code, _ = get(path, token(ns, reader, "some-other-audience"))
		Expect(code).To(Equal(http.StatusUnauthorized))

		nobody := account(ns, "nobody")
		code, body := get(path, token(ns, nobody))
		Expect(code).To(Equal(http.StatusForbidden))
		Expect(body).To(ContainSubstring("user=system:serviceaccount:%s:nobody, verb=get, resource=nodes, subresource=proxy", ns))

		logOnly := account(ns, "log-reader", rbacv1.PolicyRule{Resources: []string{"nodes/log"}, Verbs: []string{"get"}})
		code, _ = get(path, token(ns, logOnly))
		Expect(code).To(Equal(http.StatusForbidden))
		code, body = get("/logs/", token(ns, logOnly))
		Expect(code).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring(fmt.Sprintf("%s_web_%s/", ns, p.UID)))
		code, _ = get("/logs/", token(ns, reader))
		Expect(code).To(Equal(http.StatusForbidden))

		code, body = get(path, token(ns, reader))
		Expect(code).To(Equal(http.StatusOK))
		Expect(body).To(Equal("hello\n"))
	})

	It("authenticates client certificates of the cluster's CA", func() {
		p := boundPod(ns, "web", "app")
		rt.set(p.UID, runtime.Container{ID: "c1", Name: "app", State: runtime.StateRunning})
		writeLog(p, "app", 0, "from a certificate")
		user := "cert-user-" + ns
		grant(ns, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}, rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}})
		cfg, err := env.CA.AddUser(envtest.User{Name: user}, env.Config)
		Expect(err).NotTo(HaveOccurred())
		pair, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
		Expect(err).NotTo(HaveOccurred())
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}
		resp, err := c.Get(apiURL + fmt.Sprintf("/containerLogs/%s/web/app", ns))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
		Expect(string(body)).To(Equal("from a certificate\n"))
	})

	It("serves the current and previous logs with kubectl's options", func() {
		p := boundPod(ns, "web", "app")
		rt.set(p.UID, runtime.Container{ID: "c2", Name: "app", Attempt: 1, State: runtime.StateRunning},
			runtime.Container{ID: "c1", Name: "app", Attempt: 0, State: runtime.StateExited})
		writeLog(p, "app", 0, "crashed")
		writeLog(p, "app", 1, "one", "two", "three")
		reader := token(ns, account(ns, "reader", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}))
		path := fmt.Sprintf("/containerLogs/%s/web/app", ns)

		for query, want := range map[string]string{
			"":                                "one\ntwo\nthree\n",
			"?tailLines=2":                    "two\nthree\n",
			"?tailLines=0":                    "",
			"?previous=true":                  "crashed\n",
			"?limitBytes=5":                   "one\nt",
			"?timestamps=true&tailLines=1":    "2026-01-02T03:04:05.000000002Z three\n",
			"?sinceTime=2026-01-02T03:04:05Z": "three\n",
		} {
			code, body := get(path+query, reader)
			Expect(code).To(Equal(http.StatusOK), query)
			Expect(body).To(Equal(want), query)
		}
		code, body := get(path+"?tailLines=-1", reader)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body).To(ContainSubstring("tailLines"))
		code, body = get(fmt.Sprintf("/containerLogs/%s/web/sidecar", ns), reader)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body).To(ContainSubstring("container sidecar is not valid for pod web"))
		code, _ = get(fmt.Sprintf("/containerLogs/%s/absent/app", ns), reader)
		Expect(code).To(Equal(http.StatusNotFound))
	})

	It("follows a log until its container stops", func() {
		p := boundPod(ns, "web", "app")
		rt.set(p.UID, runtime.Container{ID: "c1", Name: "app", State: runtime.StateRunning})
		writeLog(p, "app", 0, "first")
		reader := token(ns, account(ns, "reader", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+fmt.Sprintf("/containerLogs/%s/web/app?follow=true", ns), nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+reader)
		resp, err := httpClient().Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		lines := make(chan string, 10)
		go func() {
			defer close(lines)
			buf := make([]byte, 1024)
			for {
				n, err := resp.Body.Read(buf)
				if n > 0 {
					lines <- string(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
		Eventually(lines).Should(Receive(Equal("first\n")))
		appendLog(p, "app", 0, "second")
		Eventually(lines).Should(Receive(Equal("second\n")))
		rt.set(p.UID, runtime.Container{ID: "c1", Name: "app", State: runtime.StateExited})
		Eventually(lines).Should(BeClosed())
	})

	It("runs commands over SPDY and websocket v5 for callers who may create nodes/proxy", func() {
		p := boundPod(ns, "web", "app")
		rt.set(p.UID, runtime.Container{ID: "c1", Name: "app", State: runtime.StateRunning})
		reader := token(ns, account(ns, "reader", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}))
		operator := token(ns, account(ns, "operator", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"get", "create"}}))
		execURL := func(cmd ...string) *url.URL {
			q := url.Values{"command": cmd, "input": {"1"}, "output": {"1"}, "error": {"1"}}
			u, err := url.Parse(apiURL + fmt.Sprintf("/exec/%s/web/app?%s", ns, q.Encode()))
			Expect(err).NotTo(HaveOccurred())
			return u
		}
		executors := map[string]func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error){
			"spdy": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
				return remotecommand.NewSPDYExecutor(cfg, "POST", u)
			},
			"websocket v5": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
				return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
			},
		}
		for name, newExecutor := range executors {
			By(name)
			exe, err := newExecutor(restConfig(operator), execURL("cat"))
			Expect(err).NotTo(HaveOccurred())
			var stdout, stderr bytes.Buffer
			Expect(exe.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("piped in\n"), Stdout: &stdout, Stderr: &stderr})).To(Succeed())
			Expect(stdout.String()).To(Equal("piped in\n"))

			exe, err = newExecutor(restConfig(operator), execURL("fail", "3"))
			Expect(err).NotTo(HaveOccurred())
			stdout.Reset()
			err = exe.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
			var exit utilexec.ExitError
			Expect(err).To(BeAssignableToTypeOf(utilexec.CodeExitError{}))
			exit = err.(utilexec.CodeExitError)
			Expect(exit.ExitStatus()).To(Equal(3))
			Expect(stderr.String()).To(ContainSubstring("failing with 3"))

			exe, err = newExecutor(restConfig(reader), execURL("cat"))
			Expect(err).NotTo(HaveOccurred())
			err = exe.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: &stdout})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("Forbidden (user=system:serviceaccount:%s:reader, verb=create, resource=nodes, subresource=proxy)", ns))
		}
	})

	It("forwards ports over SPDY and SPDY tunnelled through websocket", func() {
		p := boundPod(ns, "web", "app")
		backend, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer backend.Close()
		go serveGreeting(backend)
		rt.listen(8080, backend.Addr().String())
		operator := token(ns, account(ns, "operator", rbacv1.PolicyRule{Resources: []string{"nodes/proxy"}, Verbs: []string{"create"}}))
		u, err := url.Parse(apiURL + fmt.Sprintf("/portForward/%s/web", ns))
		Expect(err).NotTo(HaveOccurred())
		cfg := restConfig(operator)

		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		Expect(err).NotTo(HaveOccurred())
		spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, "POST", u)
		tunnelDialer, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
		Expect(err).NotTo(HaveOccurred())
		for name, dialer := range map[string]httpstream.Dialer{"spdy": spdyDialer, "websocket tunnel": tunnelDialer} {
			By(name)
			Expect(forwardOnce(dialer)).To(Equal("hello from port 8080\n"))
		}
		Expect(p.Name).To(Equal("web"))
	})
})

// forwardOnce forwards a free local port to the pod's 8080 through dialer and returns
// what one connection to it reads.
func forwardOnce(dialer httpstream.Dialer) string {
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	Eventually(ready).Should(BeClosed())
	ports, err := fw.GetPorts()
	Expect(err).NotTo(HaveOccurred())
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	got, err := io.ReadAll(conn)
	Expect(err).NotTo(HaveOccurred())
	return string(got)
}

// serveGreeting answers every connection on l with one line.
func serveGreeting(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = conn.Write([]byte("hello from port 8080\n"))
		conn.Close()
	}
}

// boundPod creates pod name with the given containers, bound to the API's node.
func boundPod(ns, name string, containers ...string) *corev1alpha1.Pod {
	p := &corev1alpha1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.NodeName = node
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	Expect(k8s.Create(ctx, p)).To(Succeed())
	return p
}

// writeLog writes lines as attempt of container's log, in the kubelet's format, one
// second apart from 2026-01-02T03:04:05.000000000Z on, the last with 2 ns added.
func writeLog(p *corev1alpha1.Pod, container string, attempt int32, lines ...string) {
	path := podworker.LogPath(logDir, p, container, attempt)
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	var b strings.Builder
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, l := range lines {
		t := at.Add(time.Duration(i-len(lines)+1) * time.Second)
		if i == len(lines)-1 {
			t = at.Add(2)
		}
		fmt.Fprintf(&b, "%s stdout F %s\n", t.Format(time.RFC3339Nano), l)
	}
	Expect(os.WriteFile(path, []byte(b.String()), 0o644)).To(Succeed())
}

func appendLog(p *corev1alpha1.Pod, container string, attempt int32, line string) {
	f, err := os.OpenFile(podworker.LogPath(logDir, p, container, attempt), os.O_APPEND|os.O_WRONLY, 0)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s stderr F %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
	Expect(err).NotTo(HaveOccurred())
}

// account creates ServiceAccount name with rules on kybern's Nodes, and returns its name.
func account(ns, name string, rules ...rbacv1.PolicyRule) string {
	_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	if len(rules) > 0 {
		grant(ns, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}, rules...)
	}
	return name
}

// grant gives subject rules on kybern's Nodes, through a ClusterRole and binding named
// after ns and subject, deleted with the spec.
func grant(ns string, subject rbacv1.Subject, rules ...rbacv1.PolicyRule) {
	name := "api-test:" + ns + ":" + subject.Name
	for i := range rules {
		rules[i].APIGroups = []string{corev1alpha1.GroupVersion.Group}
	}
	_, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: []rbacv1.Subject{subject}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		Expect(admin.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
		Expect(admin.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	})
}

// token is a TokenRequest token of ServiceAccount name, for audiences (the apiserver's
// when none).
func token(ns, name string, audiences ...string) string {
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}}}
}

// get reads path with bearer (none when empty) and returns the status and body.
func get(path, bearer string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := httpClient().Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

// restConfig reaches the API with bearer, verifying it against the cluster CA.
func restConfig(bearer string) *rest.Config {
	ca, err := os.ReadFile(env.CA.CertFile)
	Expect(err).NotTo(HaveOccurred())
	return &rest.Config{Host: apiURL, BearerToken: bearer, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}
