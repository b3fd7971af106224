package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tmpPrefix names a gate's temporary folder: poolbench-gate-<pid>-<random>.
// The pid lets a later gate tell a live gate's folder from a killed one's.
const tmpPrefix = "poolbench-gate-"

// work is a gate's temporary folder (worktrees, test binaries, the go
// command's own temporary files) and the worktrees it registered.
type work struct {
	root      string // repository
	tmp       string
	worktrees []string
}

func newWork(root string) (*work, error) {
	tmp, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", tmpPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "gotmp"), 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &work{root: root, tmp: tmp}, nil
}

// close removes the worktrees and the temporary folder, and returns what
// failed. It runs after an interrupt too, so it does not use the
// (cancelled) run context.
func (w *work) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, d := range w.worktrees {
		if _, err := git(ctx, w.root, "worktree", "remove", "--force", d); err != nil {
			errs = append(errs, fmt.Errorf("git worktree remove %s: %w", d, err))
		}
	}
	if err := os.RemoveAll(w.tmp); err != nil {
		errs = append(errs, err)
	}
	if _, err := git(ctx, w.root, "worktree", "prune"); err != nil {
		errs = append(errs, fmt.Errorf("git worktree prune: %w", err))
	}
	return errors.Join(errs...)
}

// checkout adds a detached worktree of rev under the temporary folder.
func (w *work) checkout(ctx context.Context, name, rev string) (string, error) {
	sha, err := git(ctx, w.root, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil || sha == "" {
		return "", usage("%s revision %q does not exist in this repository: fetch it, or name a branch, tag or sha", name, rev)
	}
	dir := filepath.Join(w.tmp, name)
	if _, err := git(ctx, w.root, "worktree", "add", "--detach", dir, sha); err != nil {
		return "", fmt.Errorf("checking out %s %s: %w", name, rev, err)
	}
	w.worktrees = append(w.worktrees, dir)
	return dir, nil
}

// command is a child in its own process group, SIGKILLed with its group
// when ctx ends and when this process dies, with the go command's
// temporary files inside the gate's folder.
func (w *work) command(ctx context.Context, dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOTMPDIR="+filepath.Join(w.tmp, "gotmp")), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// goIn runs the go command in dir, returning the tail of its output on failure.
func (w *work) goIn(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	b, err := w.command(ctx, dir, env, "go", args...).CombinedOutput()
	return lastLines(string(b), 3), err
}

// CleanStale removes what gates that were killed left behind: their
// temporary folders (found by name, owner pid no longer alive) with any
// process still working in them, and their worktree registrations in the
// repository at root. It returns how many folders it removed.
func CleanStale(ctx context.Context, root string) (int, error) {
	dirs := map[string]bool{}
	matches, err := filepath.Glob(filepath.Join(os.TempDir(), tmpPrefix+"*"))
	if err != nil {
		return 0, err
	}
	for _, d := range matches {
		dirs[d] = true
	}
	// Worktrees registered by a gate whose TMPDIR differed from ours.
	list, err := git(ctx, root, "worktree", "list", "--porcelain")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(list, "\n") {
		p, ok := strings.CutPrefix(l, "worktree ")
		if !ok {
			continue
		}
		if i := strings.Index(p, "/"+tmpPrefix); i >= 0 {
			end := strings.IndexByte(p[i+1:], '/')
			if end < 0 {
				end = len(p) - i - 1
			}
			dirs[p[:i+1+end]] = true
		}
	}
	n := 0
	for d := range dirs {
		if !stale(d) {
			continue
		}
		killUsers(d)
		if err := os.RemoveAll(d); err != nil {
			return n, err
		}
		n++
	}
	if _, err := git(ctx, root, "worktree", "prune"); err != nil {
		return n, err
	}
	return n, nil
}

// stale reports whether d is a gate folder whose owner is gone.
func stale(d string) bool {
	rest, ok := strings.CutPrefix(filepath.Base(d), tmpPrefix)
	if !ok {
		return false
	}
	pidStr, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// killUsers SIGKILLs every process whose command line names a path under
// d: a killed gate's orphaned test binary or compiler.
func killUsers(d string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	needle := []byte(d + "/")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, needle) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // it may have exited meanwhile
		}
	}
}
