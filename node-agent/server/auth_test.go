package server

import (
	"net/http/httptest"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
)

func TestAttributesMapPathsAsTheKubelet(t *testing.T) {
	for _, tc := range []struct {
		method, path, verb, subresource string
	}{
		{"GET", "/containerLogs/ns/web/app", "get", "proxy"},
		{"GET", "/logs/", "get", "log"},
		{"GET", "/logs", "get", "log"},
		{"GET", "/logsfoo", "get", "proxy"},
		{"GET", "/metrics/cadvisor", "get", "metrics"},
		{"GET", "/stats/summary", "get", "stats"},
		{"POST", "/exec/ns/web/app", "create", "proxy"},
		{"GET", "/exec/ns/web/app", "create", "proxy"},
		{"GET", "/attach/ns/web/app", "create", "proxy"},
		{"GET", "/portForward/ns/web", "create", "proxy"},
		{"POST", "/run/ns/web/app", "create", "proxy"},
		{"DELETE", "/healthz", "delete", "proxy"},
		{"PUT", "/healthz", "update", "proxy"},
		{"PATCH", "/healthz", "patch", "proxy"},
	} {
		a := Attributes(&user.DefaultInfo{Name: "u"}, httptest.NewRequest(tc.method, tc.path, nil), "n1")
		if a.Verb != tc.verb || a.Subresource != tc.subresource || a.Resource != "nodes" || a.Name != "n1" ||
			a.APIGroup != "core.kybern.io" || !a.ResourceRequest {
			t.Errorf("%s %s: got verb %s, %s %s/%s in %s, want verb %s on nodes/%s of n1 in core.kybern.io",
				tc.method, tc.path, a.Verb, a.Resource, a.Subresource, a.Name, a.APIGroup, tc.verb, tc.subresource)
		}
	}
}
