package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes of every command (see exitCodesHelp).
const (
	exitOK        = 0
	exitFinding   = 1
	exitUsage     = 2
	exitInterrupt = 130 // 128 + SIGINT
	exitTerm      = 143 // 128 + SIGTERM
)

// exitCodesHelp ends every command's -h.
const exitCodesHelp = `
exit status:
  0    done, nothing to report
  1    a finding: a regression, a failed scenario, disturbed or failed cells
  2    bad usage or input, detected before anything runs or is written
  130  interrupted by SIGINT (143: SIGTERM); finished results are kept
`

// usageError is bad usage or input, found before anything ran or was
// written: the process exits 2 with its message on one line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err (from a lookup or a parser of flag values) as a usage
// error; nil stays nil.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return &usageError{err}
}

// interrupted is the cause of the command context's cancellation when a
// signal arrives.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string {
	if i.sig == syscall.SIGTERM {
		return "interrupted (SIGTERM)"
	}
	return "interrupted (SIGINT)"
}

// code is the exit status for the signal.
func (i interrupted) code() int {
	if i.sig == syscall.SIGTERM {
		return exitTerm
	}
	return exitInterrupt
}

// signalContext is cancelled with an interrupted cause on the first SIGINT
// or SIGTERM; stop releases the signal handler.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(interrupted{sig})
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel(nil) }
}

// exitStatus decides a command's exit status and prints its one-line error.
// An interrupt wins over whatever the command returned: a cut-short result
// is never reported as a success.
func exitStatus(ctx context.Context, name string, err error, stderr io.Writer) int {
	var in interrupted
	if errors.As(context.Cause(ctx), &in) {
		fmt.Fprintf(stderr, "poolbench %s: %v\n", name, in)
		return in.code()
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return exitUsage
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "poolbench %s: %s\n", name, oneLine(err.Error()))
		return exitUsage
	}
	fmt.Fprintf(stderr, "poolbench %s: %v\n", name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFinding
}

// oneLine keeps an error on one line: newlines echoed from a flag value
// are escaped.
func oneLine(msg string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(strings.TrimRight(msg, "\n"))
}
