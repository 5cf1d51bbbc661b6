// Command kube-controller-manager is built only so that tests can run the garbage
// collector: without it, owned objects are never deleted with their owner.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
