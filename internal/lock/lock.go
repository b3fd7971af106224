// Package lock holds the advisory locks that keep two poolbench runs apart:
// one on a run folder, and one per CPU, so two runs never write the same
// folder or pin the same CPUs. Locks are flock(2) locks: the kernel drops
// them when the holder dies, so a killed run never leaves one stuck.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// HeldError says a lock is held by another process.
type HeldError struct {
	// What is held, e.g. "run folder results/x" or "cpu 1".
	What string
	// PID is the holder's process id, 0 if unknown.
	PID int
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is in use by poolbench pid %d: wait for it to finish or stop it", e.What, e.PID)
	}
	return fmt.Sprintf("%s is in use by another poolbench: wait for it to finish or stop it", e.What)
}

// Lock is a set of held flock locks.
type Lock struct {
	files []*os.File
	// owned are pid files removed on Release.
	owned []string
}

// Release drops every lock and removes the pid files it wrote.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	for _, p := range l.owned {
		os.Remove(p)
	}
	for _, f := range l.files {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
		f.Close()
	}
	l.files, l.owned = nil, nil
}

// PIDFile is the file in a locked run folder that names the holder.
const PIDFile = ".poolbench.lock"

// Dir locks the folder dir (which must exist) for this process. The lock is
// on the folder itself; the holder's pid goes to dir/.poolbench.lock, which
// Release removes. A held folder returns a *HeldError naming the pid.
func Dir(dir string) (*Lock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	pidFile := filepath.Join(dir, PIDFile)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{What: "run folder " + dir, PID: readPID(pidFile)}
		}
		return nil, fmt.Errorf("locking run folder %s: %w", dir, err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{files: []*os.File{f}, owned: []string{pidFile}}, nil
}

// DefaultCPUDir is where per-CPU lock files live, shared by every user of
// the machine; POOLBENCH_LOCK_DIR overrides it (tests isolate themselves).
func DefaultCPUDir() string {
	if d := os.Getenv("POOLBENCH_LOCK_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "poolbench-cpu-locks")
}

// CPUs locks each CPU in cpus, through one file per CPU in dir (created if
// needed), all or none. A held CPU returns a *HeldError naming the holder.
func CPUs(dir string, cpus []int) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("cpu locks: %w", err)
	}
	os.Chmod(dir, 0o777|os.ModeSticky) //nolint:errcheck // shared by every user, best effort
	l := &Lock{}
	for _, c := range cpus {
		p := filepath.Join(dir, fmt.Sprintf("cpu%d.lock", c))
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			l.Release()
			return nil, fmt.Errorf("cpu lock %s: %w", p, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			l.Release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &HeldError{What: fmt.Sprintf("cpu %d", c), PID: readPID(p)}
			}
			return nil, fmt.Errorf("cpu lock %s: %w", p, err)
		}
		// The file stays (another run may have it open); only its content
		// changes, so a waiter reads the current holder.
		f.Truncate(0)                                        //nolint:errcheck
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) //nolint:errcheck
		l.files = append(l.files, f)
	}
	return l, nil
}

func readPID(p string) int {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// RunIsolated runs m (a *testing.M) with IsolateCPUDir in force and returns
// its exit code: a test package's TestMain is os.Exit(lock.RunIsolated(m)).
func RunIsolated(m interface{ Run() int }) int {
	done, err := IsolateCPUDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer done()
	return m.Run()
}

// IsolateCPUDir points POOLBENCH_LOCK_DIR at a fresh temporary folder, for
// a test binary and the poolbench processes it starts: their runs then lock
// CPUs among themselves only, never against a real run on the machine or
// another package's tests. The returned func removes the folder.
func IsolateCPUDir() (func(), error) {
	dir, err := os.MkdirTemp("", "poolbench-test-cpu-locks-")
	if err != nil {
		return nil, err
	}
	if err := os.Setenv("POOLBENCH_LOCK_DIR", dir); err != nil {
		return nil, err
	}
	return func() { os.RemoveAll(dir) }, nil
}
