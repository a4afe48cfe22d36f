// Command kustomizecheck builds a kustomization as `kubectl apply -k` does, with kustomize's own
// library (krusty): its resources, patches, labels and image tags. This project's machine has no
// kubectl; `make test` runs this and checks what it prints against the Kubernetes schemas.
//
//	kustomizecheck deploy/k8s
//
// It prints the resources built (YAML documents), or what is wrong, and exits non-zero.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kustomizecheck <directory with a kustomization.yaml>")
		os.Exit(2)
	}
	built, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(
		filesys.MakeFsOnDisk(), os.Args[1],
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := built.AsYaml()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
