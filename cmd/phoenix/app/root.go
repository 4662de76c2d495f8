package app

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Global holds what every command shares: streams, kubectl's config flags, the
// workspace location and the log level.
type Global struct {
	Streams     genericiooptions.IOStreams
	ConfigFlags *genericclioptions.ConfigFlags
	Workspace   string
	Verbosity   int
}

// OpenWorkspace opens the workspace named by --workspace / $PHOENIX_HOME.
func (g *Global) OpenWorkspace() (*state.Workspace, error) { return state.Open(g.Workspace) }

// Logger logs to stderr: warnings by default, info with -v 1, debug with -v 2 and more.
func (g *Global) Logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case g.Verbosity >= 2:
		level = slog.LevelDebug
	case g.Verbosity == 1:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.Streams.ErrOut, &slog.HandlerOptions{Level: level}))
}

// Progress prints one progress line to stderr (human output, never parsed).
func (g *Global) Progress(format string, args ...any) {
	fmt.Fprintf(g.Streams.ErrOut, format+"\n", args...)
}

// NewRootCommand builds the phoenix command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	g := &Global{Streams: streams, ConfigFlags: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "phoenix",
		Short: "Upgrade Kubernetes clusters the blue-green way",
		Long: strings.TrimSpace(`
phoenix upgrades Kubernetes clusters the blue-green way: it provisions a fresh cluster
at the target version (green), tells what will break there, moves namespaces across
(converting removed API versions), proves parity, and shifts traffic in gated steps.
The old cluster (blue) stays intact, so rollback is instant.`),
		Example: example(`
  phoenix provision --version v1.37.2 --name green
  phoenix clusters add blue --context prod --role blue
  phoenix assess --ns payments --to v1.37.2
  phoenix migrate --ns payments`),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// phoenix reads old API versions on purpose (assess, migrate) and reports
			// removals itself; the apiserver's deprecation warnings only show with -v 1.
			if g.Verbosity < 1 {
				rest.SetDefaultWarningHandler(rest.NoWarnings{})
			}
			return nil
		},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return WithExitCode(ExitUsage, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	pf := cmd.PersistentFlags()
	g.ConfigFlags.AddFlags(pf)
	pf.StringVar(&g.Workspace, "workspace", "", "phoenix workspace directory (default $PHOENIX_HOME or ~/.phoenix)")
	pf.IntVarP(&g.Verbosity, "v", "v", 0, "log level: 0 warnings, 1 info, 2 debug")

	for _, sub := range []func(*Global) *cobra.Command{
		newVersionCommand,
		newProvisionCommand,
		newClustersCommand,
		newKubeconfigCommand,
		newDeleteCommand,
		newLoadCommand,
		newMigrateCommand,
		newVerifyCommand,
		newConvertCommand,
		newAssessCommand,
		newCutoverCommand,
		newRollbackCommand,
		newStatusCommand,
		newUpgradeCommand,
	} {
		cmd.AddCommand(sub(g))
	}
	return cmd
}

// usageError marks bad flags or arguments (exit code 2).
func usageError(format string, args ...any) error {
	return WithExitCode(ExitUsage, fmt.Errorf(format, args...))
}
