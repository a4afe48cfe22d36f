// Command composecheck reads a compose file as Docker Compose does, with compose-go (the
// Compose Specification's reference loader): its schema, interpolation, anchors and merges.
// This project's machine has no Docker engine for `docker compose config`; `make test` runs this.
//
//	composecheck compose.yaml [NAME=VALUE ...]
//
// It prints the project as loaded (JSON), or what is wrong, and exits non-zero.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck compose.yaml [NAME=VALUE ...]")
		os.Exit(2)
	}
	// Only the variables given: what the file needs must not come from this shell by chance.
	options, err := cli.NewProjectOptions(
		[]string{os.Args[1]},
		cli.WithEnv(os.Args[2:]),
		cli.WithWorkingDirectory("."),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	loaded, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(string(loaded))
}
