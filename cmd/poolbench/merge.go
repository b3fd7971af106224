package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolbench/poolbench/bench/merge"
)

// mergeCmd combines per-host load results into one bench.txt.
func mergeCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench merge -in lg1.jsonl,lg2.jsonl [-out bench.txt]\n\nCombines the results of one run measured from several load hosts, cell run by cell run:\nclosed-loop cells by summing counts and merging HDR histograms, open-loop cells through\nvegeta's decoders (as `vegeta report a.bin b.bin`); never by averaging percentiles.\nWrites Go benchmark lines with the same cell names and file-level keys naming the hosts.\n\nflags:")
		fs.PrintDefaults()
	}
	in := fs.String("in", "", "per-host results files (JSON lines, one per load host), comma-separated; globs allowed")
	out := fs.String("out", "", "merged benchmark file (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var paths []string
	for _, p := range strings.Split(*in, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		m, err := filepath.Glob(p)
		if err != nil || len(m) == 0 {
			return &exitError{2, fmt.Sprintf("-in %q: no file matches %q: give the per-host results files, e.g. -in results/lg1.jsonl,results/lg2.jsonl", *in, p)}
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		return &exitError{2, "-in \"\": want per-host results files, e.g. -in results/lg1.jsonl,results/lg2.jsonl"}
	}
	var hosts [][]merge.HostResult
	var names []string
	for _, p := range paths {
		rs, err := merge.ReadFile(p)
		if err != nil {
			return &exitError{2, fmt.Sprintf("-in %q: %v: want the JSON lines a load host wrote", p, err)}
		}
		hosts = append(hosts, rs)
		names = append(names, rs[0].Host)
	}
	lines, err := merge.Lines(hosts)
	if err != nil {
		return &exitError{2, fmt.Sprintf("-in %q: %v", *in, err)}
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return &exitError{2, fmt.Sprintf("-out %q: %v", *out, err)}
		}
		defer f.Close()
		w = f
	}
	if err := merge.Write(w, names, lines); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(os.Stderr, "poolbench merge: %d cell runs from %d hosts → %s\n", len(lines), len(hosts), *out)
	}
	return nil
}
