// Command etcd is etcd 3.6 (the version kube-apiserver 1.36 requires); Debian's is too old.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
