package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// version is set when building a release:
//
//	go build -ldflags "-X main.version=v1.2.0"
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "taskrunner", version) },
	}
}
