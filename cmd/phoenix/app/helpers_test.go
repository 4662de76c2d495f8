package app

import (
	"os"
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

// TestMain runs the package's tests, or, as a subprocess of cutover_kill_test.go (with
// envRunMain set), the phoenix command itself.
func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		runAsPhoenix()
		return
	}
	testenv.Main(m)
}
