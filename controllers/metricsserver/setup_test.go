package metricsserver

import (
	"strings"
	"testing"

	"github.com/kybern/kybern/controllers/internal/setup"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		s       setup.MetricsServerSettings
		wantErr string
	}{
		{s: setup.MetricsServerSettings{BindAddress: "0"}},
		{s: setup.MetricsServerSettings{BindAddress: "127.0.0.1:4443"}},
		{s: setup.MetricsServerSettings{BindAddress: "localhost:4443"}},
		{s: setup.MetricsServerSettings{BindAddress: ":4443", Service: "kybern-system/kybern-metrics-api", CertDir: "/etc/kybern/metrics-api"}},
		{s: setup.MetricsServerSettings{BindAddress: "4443"}, wantErr: "--metrics-api-bind-address=4443"},
		{s: setup.MetricsServerSettings{BindAddress: "127.0.0.1:0"}, wantErr: "the port must be 1-65535"},
		{s: setup.MetricsServerSettings{BindAddress: ":4443"}, wantErr: "without --metrics-api-service"},
		{s: setup.MetricsServerSettings{BindAddress: "10.0.0.1:4443"}, wantErr: "without --metrics-api-service"},
		{s: setup.MetricsServerSettings{BindAddress: ":4443", Service: "kybern-metrics-api", CertDir: "/d"}, wantErr: "must be <namespace>/<name>"},
		{s: setup.MetricsServerSettings{BindAddress: ":4443", Service: "kybern-system/kybern-metrics-api"}, wantErr: "needs --metrics-api-cert-dir"},
	} {
		err := Validate(tc.s)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tc.s, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: got %v, want an error containing %q", tc.s, err, tc.wantErr)
		}
	}
}
