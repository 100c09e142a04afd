package testenv

import (
	"errors"
	"fmt"
)

// RestartControlPlane stops kube-apiserver and etcd, runs between (when not nil) while
// neither runs, and starts them again as make envtest-down and make envtest-up do: on the
// same addresses, with the same certificates and etcd data directory, so that every object
// is kept, and Config, Client, Kubeconfig and the certificates issued so far stay valid.
// Clients see connection failures until the apiserver serves again. The control plane
// starts even when stopping it or between fails (a Ginkgo assertion panics out of it),
// so that later specs still have one.
func (e *Env) RestartControlPlane(between func()) (err error) {
	plane := &e.env.ControlPlane
	// A process that does not stop in time is killed: the control plane starts again anyway.
	if stopErr := plane.Stop(); stopErr != nil {
		err = fmt.Errorf("stopping the control plane: %w", stopErr)
	}
	defer func() {
		if startErr := plane.Start(); startErr != nil {
			err = errors.Join(err, fmt.Errorf("starting the control plane again on %s with etcd data in %s: %w",
				plane.APIServer.SecureServing.URL("https", ""), plane.Etcd.DataDir, startErr))
		}
	}()
	if between != nil {
		between()
	}
	return err
}
