package containerd

import (
	"context"
	"testing"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// fixedSpec is a container whose spec is spec, or err.
type fixedSpec struct {
	spec *oci.Spec
	err  error
}

func (f fixedSpec) Spec(context.Context) (*oci.Spec, error) { return f.spec, f.err }

func TestCgroupsPath(t *testing.T) {
	cases := []struct {
		name     string
		c        fixedSpec
		want     string
		notFound bool
		wantErr  bool
	}{
		{"containerd's default", fixedSpec{spec: &oci.Spec{Linux: &specs.Linux{CgroupsPath: "/kybern-n1/abc"}}}, "/kybern-n1/abc", false, false},
		{"no linux section", fixedSpec{spec: &oci.Spec{}}, "", false, true},
		{"empty path", fixedSpec{spec: &oci.Spec{Linux: &specs.Linux{}}}, "", false, true},
		{"container removed meanwhile", fixedSpec{err: errdefs.ErrNotFound}, "", true, true},
	}
	for _, tc := range cases {
		got, err := cgroupsPath(context.Background(), tc.c)
		if got != tc.want || (err != nil) != tc.wantErr || errdefs.IsNotFound(err) != tc.notFound {
			t.Errorf("%s: cgroupsPath = %q, %v; want %q, error %t, not found %t", tc.name, got, err, tc.want, tc.wantErr, tc.notFound)
		}
	}
}
