package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/internal/check"
	"github.com/poolbench/poolbench/internal/lock"
)

// runDir is a run folder held by this run: the folder locked, the CPUs
// locked machine-wide, and the run's settings recorded for -resume.
type runDir struct {
	dir      string
	benchTxt string
	finished map[string]int // resume: result lines already there, per cell
	created  bool           // the folder did not exist before this run
	wrote    bool           // this run wrote run-spec.json
	locks    []*lock.Lock
}

// runSettings is what a run folder records in run-spec.json: every flag's
// value but those that do not change results (-out, -resume, -json), so
// -resume refuses a folder made with other settings.
func runSettings(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "out", "resume", "append", "json":
		default:
			m[f.Name] = f.Value.String()
		}
	})
	return m
}

// openRunDir takes the CPUs and the run folder for a run, or refuses with a
// usage error (exit 2) before anything runs: CPUs or folder held by another
// run (naming its pid), a folder that already holds a process run without
// -resume, or -resume of a folder made with other settings; with appendTo,
// a folder holding other cells takes this run's cells too. out "" makes a
// new folder results/<yyyymmdd-hhmmss>-<sha7>, unique even within a second.
func openRunDir(out, sha string, spec map[string]string, s runner.Settings, profile, resume, appendTo bool) (rd *runDir, err error) {
	rd = &runDir{}
	if resume && out == "" {
		return rd, usagef("-resume needs -out: the run folder to finish")
	}
	if appendTo && (out == "" || resume) {
		return rd, usagef("-append needs -out (the run folder to add to) and no -resume")
	}
	defer func() {
		if err != nil {
			rd.release()
		}
	}()
	cpus, err := runCPUs(s)
	if err != nil {
		return rd, err
	}
	l, err := lock.CPUs(lock.DefaultCPUDir(), cpus)
	if err != nil {
		return rd, lockErr(err)
	}
	rd.locks = append(rd.locks, l)
	if out == "" {
		if rd.dir, err = newRunFolder("results", time.Now().UTC().Format("20060102-150405")+"-"+sha); err != nil {
			return rd, err
		}
		rd.created = true
	} else {
		rd.dir = out
		if _, err := os.Stat(out); os.IsNotExist(err) {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return rd, err
			}
			rd.created = true
		}
	}
	if l, err = lock.Dir(rd.dir); err != nil {
		return rd, lockErr(err)
	}
	rd.locks = append(rd.locks, l)
	rd.benchTxt = (&runner.Runner{Dir: rd.dir, Profile: profile}).BenchFile()
	js, err := json.Marshal(spec) // map keys are sorted: the same flags, the same bytes
	if err != nil {
		return rd, err
	}
	if rd.finished, err = runner.PrepareDir(rd.benchTxt, js, resume, appendTo); err != nil {
		return rd, asUsage(err)
	}
	if err := runner.WriteSpec(rd.benchTxt, js); err != nil {
		return rd, err
	}
	rd.wrote = true
	return rd, nil
}

// runCPUs are the CPUs a run pins; an unpinned side uses them all.
func runCPUs(s runner.Settings) ([]int, error) {
	if s.ServerCPUs == "" || s.LoadCPUs == "" {
		return check.Online()
	}
	a, err := check.CPUList("server-cpus", s.ServerCPUs)
	if err != nil {
		return nil, asUsage(err)
	}
	b, err := check.CPUList("load-cpus", s.LoadCPUs)
	if err != nil {
		return nil, asUsage(err)
	}
	cpus := append(a, b...)
	slices.Sort(cpus)
	return slices.Compact(cpus), nil // shared cpus (-allow-shared-cpus) are locked once
}

// newRunFolder creates parent/name, or parent/name-2, -3, ... if another
// run made that folder first: os.Mkdir is atomic, so two runs started in
// the same second never share one.
func newRunFolder(parent, name string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	for i := 1; i < 1000; i++ {
		dir := filepath.Join(parent, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free run folder name under %s for %s", parent, name)
}

// lockErr makes a held lock a usage error: the run refuses before it starts.
func lockErr(err error) error {
	var he *lock.HeldError
	if errors.As(err, &he) {
		return asUsage(err)
	}
	return err
}

// release drops the locks; a run that finished no cell leaves nothing: the
// folder it created is removed, or the spec it wrote into an existing one.
func (rd *runDir) release() {
	finished := false
	if rd.benchTxt != "" {
		b, _ := os.ReadFile(rd.benchTxt)
		finished = len(runner.FinishedCells(b)) > 0
	}
	switch {
	case finished:
	case rd.created && rd.dir != "":
		os.RemoveAll(rd.dir)
	case rd.wrote:
		os.Remove(filepath.Join(filepath.Dir(rd.benchTxt), runner.SpecFile))
		if filepath.Dir(rd.benchTxt) != rd.dir {
			os.Remove(filepath.Dir(rd.benchTxt)) // profiles/, if this run made it and left it empty
		}
	}
	for i := len(rd.locks) - 1; i >= 0; i-- {
		rd.locks[i].Release()
	}
	rd.locks = nil
}
