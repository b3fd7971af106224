package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/poolbench/poolbench/bench/report"
)

func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench report [-force] [results/<run>]

Writes report.md, report.html (self-contained) and charts/*.svg into the run
folder (default: the newest results/2*), from its bench.txt, vegeta results,
profiles and scenarios.json; missing parts are listed in the report.
Exit 2 when bench.txt is missing or holds no poolbench results, or when the
folder is results/reference (committed; its raw files are not) without -force.

flags:`)
		fs.PrintDefaults()
	}
	force := fs.Bool("force", false, "allow rewriting the committed reference run (results/reference)")
	withExitCodes(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var dir string
	switch fs.NArg() {
	case 0:
		runs, _ := filepath.Glob(filepath.Join("results", "2*"))
		if len(runs) == 0 {
			return &exitError{2, "no run under results/: run make bench first, or name a run folder"}
		}
		sort.Strings(runs)
		dir = runs[len(runs)-1]
	case 1:
		dir = fs.Arg(0)
	default:
		return &exitError{2, fmt.Sprintf("want one run folder, got %d arguments, e.g. poolbench report results/20261122-020551-b2d75d1", fs.NArg())}
	}
	if isReference(dir) && !*force {
		return &exitError{2, fmt.Sprintf("%s is the committed reference run: its raw files are not committed, so a new report would lose sections; pass -force (make report FORCE=1) to rewrite it anyway", dir)}
	}
	run, err := report.Read(dir)
	if err != nil {
		return &exitError{2, err.Error()}
	}
	rep := report.Build(run)
	if err := rep.Write(dir); err != nil {
		return err
	}
	fmt.Printf("poolbench report: %s/report.html, %s/report.md (%d sections, %d missing)\n", dir, dir, len(rep.Sections), len(rep.Missing))
	return nil
}

// isReference reports whether dir is results/reference (however spelled).
func isReference(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	return filepath.Base(abs) == "reference" && filepath.Base(filepath.Dir(abs)) == "results"
}
