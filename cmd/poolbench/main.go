// Command poolbench runs poolbench's real-socket layer.
//
//	poolbench serve   serve one model and variant, with a loopback control port
//	poolbench load    drive one workload against a server and report
//	poolbench run     run the process matrix: a server and a load process per cell
//	poolbench gate    compare base and head benchmarks, interleaved; exit 1 on a regression
//	poolbench scenarios  reproduce client pool failures and their fixes; -doctor diagnoses a config
//	poolbench report  write report.html and report.md for a run folder
//	poolbench compare set two runs (or sets of runs) side by side: machine, headline ratios, every cell
//	poolbench calibrate  measure the gate: A/A false alarms and planted slowdowns caught
//
// Run `poolbench <command> -h` for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

// commands is the registry of subcommands, one file each.
var commands = []command{
	{"serve", "serve one model and variant, with a loopback control port", serveCmd},
	{"load", "drive one workload against a server and report", loadCmd},
	{"run", "run the process matrix: a server and a load process per cell", runCmd},
	{"gate", "compare base and head benchmarks, interleaved; exit 1 on a regression", gateCmd},
	{"scenarios", "reproduce client pool failures and their fixes; -doctor diagnoses a config", scenariosCmd},
	{"report", "write report.html and report.md for a run folder", reportCmd},
	{"compare", "set two runs (or sets of runs) side by side: machine, headline ratios, every cell", compareCmd},
	{"crossover", "search the connection count where fasthttp's advantage over net/http crosses a threshold", crossoverCmd},
	{"merge", "combine per-host load results into one bench.txt (histograms merged, never percentiles averaged)", mergeCmd},
	{"calibrate", "measure the gate: A/A false alarms and planted +1/+2/+3/+5% slowdowns caught", calibrateCmd},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: poolbench <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'poolbench <command> -h' for its flags.")
	fmt.Fprint(os.Stderr, exitCodesHelp)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	ctx, stop := signalContext()
	for _, c := range commands {
		if c.name != os.Args[1] {
			continue
		}
		err := c.run(ctx, os.Args[2:])
		code := exitStatus(ctx, c.name, err, os.Stderr)
		stop()
		os.Exit(code)
	}
	stop()
	fmt.Fprintf(os.Stderr, "poolbench: unknown command %q\n", os.Args[1])
	usage()
	os.Exit(2)
}

// withExitCodes makes fs print to stderr and end its -h with the exit codes;
// commands that take positional arguments call it before their own Parse.
func withExitCodes(fs *flag.FlagSet) {
	fs.SetOutput(os.Stderr)
	if u := fs.Usage; u != nil {
		fs.Usage = func() { u(); fmt.Fprint(fs.Output(), exitCodesHelp) }
	}
}

// errUsage marks an error flag parsing has already reported.
var errUsage = errors.New("usage")

// parse parses a command's flags; extra arguments are an error.
func parse(fs *flag.FlagSet, args []string) error {
	withExitCodes(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: every setting is a flag (see -h)", fs.Arg(0))
	}
	return nil
}
