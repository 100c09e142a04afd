// Command etcd is the upstream etcd server built from Go modules, for envtest on machines
// that cannot download release binaries. It lives in its own module so that the etcd
// server keeps the v3.6 line that envtest releases ship, whatever kube-apiserver's client
// requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
