package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/poolbench/poolbench/bench/report"
)

func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench report results/<run>\n\nWrites report.md, report.html (self-contained) and charts/*.svg into the run folder,\nfrom its bench.txt, vegeta results, profiles and scenarios.json; missing parts are listed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one run folder, e.g. poolbench report results/20261122-020551-b2d75d1")
	}
	dir := fs.Arg(0)
	run, err := report.Read(dir)
	if err != nil {
		return err
	}
	rep := report.Build(run)
	if err := rep.Write(dir); err != nil {
		return err
	}
	fmt.Printf("poolbench report: %s/report.html, %s/report.md (%d sections, %d missing)\n", dir, dir, len(rep.Sections), len(rep.Missing))
	return nil
}
