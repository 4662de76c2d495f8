package app

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, s := range c.Commands() {
		out = append(out, allCommands(s)...)
	}
	return out
}

func TestMain(m *testing.M) { testenv.Main(m) }
