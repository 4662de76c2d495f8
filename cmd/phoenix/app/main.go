package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes phoenix documents (docs/exit-codes.md).
const (
	ExitOK = 0
	// ExitError: the command failed (bad input, unreachable cluster, failed step).
	ExitError = 1
	// ExitUsage: flags or arguments are wrong.
	ExitUsage = 2
	// ExitFindings: the command ran, and what it checked is not clean (assess found
	// blockers, verify found no parity, a cutover gate failed and rolled back).
	ExitFindings = 3
)

// ExitCodeError carries an exit code with an error.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that Main exits with code.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: code, Err: err}
}

// Main runs phoenix with the process's arguments and exits.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, w interface{ Write([]byte) (int, error) }) int {
	if err == nil {
		return ExitOK
	}
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		if ec.Err != nil && !errors.Is(ec.Err, errSilent) {
			fmt.Fprintf(w, "ERROR: %v\n", ec.Err)
		}
		return ec.Code
	}
	fmt.Fprintf(w, "ERROR: %v\n", err)
	return ExitError
}

// errSilent marks an error already reported to the user.
var errSilent = errors.New("reported")

// Run runs phoenix with args; it never exits the process.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) error {
	cmd := NewRootCommand(streams)
	cmd.SetArgs(args)
	cmd.SetContext(ctx)
	return cmd.ExecuteContext(ctx)
}
