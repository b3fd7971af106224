package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/perf/benchproc"

	"github.com/poolbench/poolbench/bench/compare"
	"github.com/poolbench/poolbench/servers"
)

func compareCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench compare [flags] A B\n       poolbench compare [flags] -a dir1,dir2 -b dir3\n\n"+
			"Sets two runs (or two sets of runs, comma-separated) side by side: machine differences first,\n"+
			"then each headline ratio (the baseline model over every other model, per cell) in A and in B,\n"+
			"then every cell's medians with intervals and the change with its p-value (~: not significant).\n"+
			"Run-identity keys (commit, date, cpu lists, kernel) are left out of the cell names, so cells line up.\n\nflags:")
		fs.PrintDefaults()
	}
	a := fs.String("a", "", "side A: run folders or bench.txt files, comma-separated (or the first argument)")
	b := fs.String("b", "", "side B: run folders or bench.txt files, comma-separated (or the second argument)")
	md := fs.Bool("md", false, "write markdown instead of text tables")
	filter := fs.String("filter", "*", "compare only results matching this benchstat filter, e.g. '.name:Proc /load:keepalive'")
	alpha := fs.Float64("alpha", 0.05, "significance level: a change is reported when p < alpha")
	units := fs.String("ratio-units", "req/s,rss-bytes/conn", "units the headline ratios are taken in")
	baseline := fs.String("baseline", servers.Baseline().Name, "the model the headline ratios divide by")
	withExitCodes(fs)
	var pos []string
	for {
		fs.SetOutput(os.Stderr)
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	var sides [2][]string
	switch {
	case *a != "" || *b != "":
		if *a == "" || *b == "" || len(pos) > 0 {
			return &exitError{2, fmt.Sprintf("-a %q -b %q with %d arguments: give both -a and -b and no arguments, or two arguments A B", *a, *b, len(pos))}
		}
		sides = [2][]string{splitList(*a), splitList(*b)}
	case len(pos) == 2:
		sides = [2][]string{splitList(pos[0]), splitList(pos[1])}
	default:
		return &exitError{2, fmt.Sprintf("%d arguments: want two runs A B, e.g. poolbench compare results/reference results/<run> (or -a dir1,dir2 -b dir3)", len(pos))}
	}
	if *alpha <= 0 || *alpha >= 1 {
		return &exitError{2, fmt.Sprintf("-alpha %v: want a level between 0 and 1, e.g. 0.05", *alpha)}
	}
	f, err := benchproc.NewFilter(*filter)
	if err != nil {
		// The parser's message spans lines (the query, a caret): keep the first.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return &exitError{2, fmt.Sprintf("-filter %q: %s: want a benchstat filter such as '.name:Proc /load:keepalive'", *filter, msg)}
	}
	if _, err := servers.ParseModels(*baseline); err != nil {
		return &exitError{2, fmt.Sprintf("-baseline %q: %v", *baseline, err)}
	}
	var runs [2]*compare.Run
	for i, label := range []string{"A", "B"} {
		if runs[i], err = compare.Read(label, sides[i], f); err != nil {
			return &exitError{2, fmt.Sprintf("side %s: %v", label, strings.TrimPrefix(err.Error(), compare.ErrInput.Error()+": "))}
		}
	}
	c := compare.Compare(runs[0], runs[1], compare.Options{Baseline: *baseline, RatioUnits: splitList(*units), Alpha: *alpha})
	if len(c.Tables) == 0 {
		return &exitError{2, fmt.Sprintf("no cell is on both sides (%d only in A, %d only in B, -filter %q): compare runs of the same matrix, or widen -filter", len(c.OnlyA), len(c.OnlyB), *filter)}
	}
	var buf bytes.Buffer
	if *md {
		err = c.WriteMarkdown(&buf)
	} else {
		err = c.WriteText(&buf)
	}
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(buf.Bytes())
	return err
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
