package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/poolbench/poolbench/bench/suite"
)

// pprofKinds are the profiles a cell can have, with go tool pprof's
// sample index for each.
var pprofKinds = map[string]string{"allocs": "alloc_objects", "cpu": ""}

func pprofCmd(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("pprof", flag.ContinueOnError)
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), `usage: poolbench pprof -cell <cell path> [-run results/<run>] [-kind allocs|cpu]

make pprof: opens go tool pprof's web UI, on loopback, on one cell's profile
(<run>/profiles/<cell path>/<kind>.pb.gz) and prints its real address.
Without -cell, lists the profiled cells. Exit 2 when there is no such
profile; 130 when interrupted.

flags:`)
		fl.PrintDefaults()
	}
	run := fl.String("run", "", "run folder (default: the newest under results/ that holds profiles)")
	cell := fl.String("cell", "", "cell path, as in profiles.md, e.g. model=fasthttp/client=driver/route=app/load=keepalive/…")
	kind := fl.String("kind", "allocs", "profile: allocs or cpu")
	noBrowser := fl.Bool("no-browser", false, "do not open a browser, only serve")
	if err := parse(fl, args); err != nil {
		return err
	}
	index, ok := pprofKinds[*kind]
	if !ok {
		return &exitError{2, fmt.Sprintf("-kind %q: want allocs or cpu", *kind)}
	}
	if *run == "" {
		*run = newestWithProfiles("results")
		if *run == "" {
			return &exitError{2, "no profiles under results/: run make profile (or make bench PROFILE=1) first"}
		}
	}
	file := filepath.Join(*run, "profiles", *cell, *kind+".pb.gz")
	if st, err := os.Stat(file); *cell == "" || err != nil || st.IsDir() {
		cells := profiledCells(*run, *kind)
		if len(cells) == 0 {
			return &exitError{2, fmt.Sprintf("-run %q: no %s profiles under %s/profiles: run make profile first", *run, *kind, *run)}
		}
		return &exitError{2, fmt.Sprintf("-cell %q: no %s profile in %s; profiled cells:\n  %s", *cell, *kind, *run, strings.Join(cells, "\n  "))}
	}
	// go tool pprof -http=127.0.0.1:0 prints port 0, not where it listens:
	// pick a free port first so the printed address is the real one.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	pargs := []string{"tool", "pprof", "-http=" + addr}
	if index != "" {
		pargs = append(pargs, "-sample_index="+index)
	}
	if *noBrowser {
		pargs = append(pargs, "-no_browser")
	}
	fmt.Printf("poolbench pprof: %s at http://%s/ (Ctrl-C to stop)\n", file, addr)
	sig := watchSignals()
	cmd := suite.Command(ctx, "go", append(pargs, file)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return &exitError{sig(), "stopped"}
	}
	return err
}

// newestWithProfiles is the newest run folder under root holding a profile.
func newestWithProfiles(root string) string {
	runs, _ := filepath.Glob(filepath.Join(root, "2*"))
	sort.Sort(sort.Reverse(sort.StringSlice(runs)))
	for _, r := range runs {
		if len(profiledCells(r, "*")) > 0 {
			return r
		}
	}
	return ""
}

// profiledCells lists the cell paths under run/profiles with a kind profile.
func profiledCells(run, kind string) []string {
	var out []string
	dir := filepath.Join(run, "profiles")
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error { //nolint:errcheck // a missing folder lists nothing
		if err != nil || d.IsDir() {
			return nil
		}
		if ok, _ := filepath.Match(kind+".pb.gz", d.Name()); ok {
			rel, _ := filepath.Rel(dir, filepath.Dir(p))
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}
