package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resultFile is a run's bench.txt as a transaction: result lines (and the
// side files that belong to them) are committed one cell at a time, and
// each commit replaces the file atomically (write a temp file, rename), so
// an interrupted or killed run leaves the file as it was after the last
// finished cell, never a half line, and no side file without its line.
type resultFile struct {
	path    string
	content []byte       // what is on disk
	pending bytes.Buffer // lines of the cell being committed
	// moves are side files written under a staging name, moved into place
	// by Commit (staged → final) and removed by Abort.
	moves [][2]string
}

// openResults reads path (which may not exist yet); preamble is written
// ahead of the first commit if the file does not exist.
func openResults(path string, preamble []byte) (*resultFile, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &resultFile{path: path, content: append([]byte(nil), preamble...)}, nil
	}
	if err != nil {
		return nil, err
	}
	return &resultFile{path: path, content: b}, nil
}

// Write adds to the pending lines.
func (f *resultFile) Write(p []byte) (int, error) { return f.pending.Write(p) }

// stage returns where a side file meant for final is written until its
// result line is committed: a hidden name next to it.
func (f *resultFile) stage(final string) string {
	staged := filepath.Join(filepath.Dir(final), ".partial-"+filepath.Base(final))
	for _, m := range f.moves {
		if m[1] == final { // a second run of the same cell (profiles: allocs, then cpu)
			return staged
		}
	}
	os.RemoveAll(staged) // a leftover of a killed run
	f.moves = append(f.moves, [2]string{staged, final})
	return staged
}

// Commit moves the staged side files into place and writes the pending
// lines, atomically.
func (f *resultFile) Commit() error {
	for _, m := range f.moves {
		if _, err := os.Stat(m[0]); os.IsNotExist(err) {
			continue // the cell wrote none
		}
		if err := os.MkdirAll(filepath.Dir(m[1]), 0o755); err != nil {
			return err
		}
		os.RemoveAll(m[1]) // an earlier run of the same cell
		if err := os.Rename(m[0], m[1]); err != nil {
			return err
		}
	}
	f.moves = nil
	next := append(append([]byte(nil), f.content...), f.pending.Bytes()...)
	if err := writeAtomic(f.path, next); err != nil {
		return err
	}
	f.content = next
	f.pending.Reset()
	return nil
}

// Abort drops the pending lines and removes the staged side files.
func (f *resultFile) Abort() {
	for _, m := range f.moves {
		os.RemoveAll(m[0])
	}
	f.moves = nil
	f.pending.Reset()
}

// writeAtomic replaces path with b: a temp file in the same folder, synced,
// then renamed over path.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// FinishedCells counts the process-layer result lines per cell name (as
// Cell.Name) in a bench.txt, for resuming a run.
func FinishedCells(benchTxt []byte) map[string]int {
	done := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(benchTxt))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "BenchmarkProc/") {
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		done[strings.TrimPrefix(strings.TrimSpace(name), "Benchmark")]++
	}
	return done
}

// SpecFile is the file next to a run's bench.txt that records the settings
// the run was started with; -resume refuses a folder whose spec differs.
const SpecFile = "run-spec.json"

// ResumeError says a run folder cannot take this run.
type ResumeError struct{ msg string }

func (e *ResumeError) Error() string { return e.msg }

// PrepareDir decides whether benchTxt's folder can take a run with spec
// (the run's settings, as canonical JSON). Without resume, a folder that
// already holds process results or a spec refuses; with resume, the spec
// must be the same; with appendTo, a folder holding another run's cells
// (poolbench bench's steps) takes this run's after them. It returns the cells
// already finished (resume) and writes nothing.
func PrepareDir(benchTxt string, spec []byte, resume, appendTo bool) (map[string]int, error) {
	if appendTo {
		return nil, nil // another step's cells stay; this run's are added after them
	}
	specPath := filepath.Join(filepath.Dir(benchTxt), SpecFile)
	old, specErr := os.ReadFile(specPath)
	b, err := os.ReadFile(benchTxt)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	done := FinishedCells(b)
	if !resume {
		if specErr == nil || len(done) > 0 {
			return nil, &ResumeError{fmt.Sprintf("%s already holds a process run: give -resume to finish it, or a new -out", filepath.Dir(benchTxt))}
		}
		return nil, nil
	}
	if specErr != nil {
		return nil, &ResumeError{fmt.Sprintf("-resume: %s has no %s: nothing to resume (drop -resume)", filepath.Dir(benchTxt), SpecFile)}
	}
	if !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(spec)) {
		return nil, &ResumeError{fmt.Sprintf("-resume: %s was made with other settings (%s): run with the same flags, or use a new -out",
			filepath.Dir(benchTxt), specPath)}
	}
	return done, nil
}

// WriteSpec records the run's settings next to benchTxt.
func WriteSpec(benchTxt string, spec []byte) error {
	return writeAtomic(filepath.Join(filepath.Dir(benchTxt), SpecFile), append(bytes.TrimSpace(spec), '\n'))
}

// sidePath is where the cell writes a side file meant for final: a staging
// name while a bench.txt transaction is open, final otherwise.
func (r *Runner) sidePath(final string) string {
	if r.results == nil {
		return final
	}
	return r.results.stage(final)
}
