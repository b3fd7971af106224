package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A server stopped (SIGSTOP) mid-window must not become a sample: the cell
// fails with the cause, runs again, and only the clean run is written.
func TestStoppedServerFailsTheCellAndReruns(t *testing.T) {
	s := quick
	s.Duration = 3 * time.Second
	var mu sync.Mutex
	var serverPID, attempts int
	var retried []error
	r := &Runner{Binary: binary, Dir: t.TempDir(), Settings: s, Count: 1,
		OnServer: func(pid int) { mu.Lock(); serverPID = pid; mu.Unlock() },
		OnLoad: func(int) {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if attempts == 1 {
				pid := serverPID
				time.AfterFunc(s.Warmup+300*time.Millisecond, func() { syscall.Kill(pid, syscall.SIGSTOP) })
			}
		},
		OnRetry: func(_ Cell, err error) { mu.Lock(); retried = append(retried, err); mu.Unlock() },
	}
	c := testCell(t, "fasthttp", "keepalive", 4)
	if err := r.Run(context.Background(), []Cell{c}); err != nil {
		t.Fatalf("Run = %v, want the re-run to succeed", err)
	}
	if len(retried) != 1 || !strings.Contains(retried[0].Error(), "stopped (SIGSTOP) mid-cell") {
		t.Fatalf("retries %v, want one, caused by the stopped server", retried)
	}
	if attempts != 2 {
		t.Errorf("%d load runs, want 2 (the failed one and its re-run)", attempts)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := FinishedCells(b)[c.Name()]; n != 1 {
		t.Errorf("bench.txt has %d lines for the cell, want 1 (the re-run's)", n)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
}

// A cell that outlives its watchdog fails, is re-run once, and the run
// ends with the failed cell named and no line for it.
func TestWatchdogFailsAStalledCell(t *testing.T) {
	var retries int
	r := &Runner{Binary: binary, Dir: t.TempDir(), Settings: quick, Count: 1, CellTimeout: time.Millisecond,
		OnRetry: func(Cell, error) { retries++ }}
	c := testCell(t, "nethttp", "keepalive", 2)
	err := r.Run(context.Background(), []Cell{c})
	var fe *FailedCellsError
	if !errors.As(err, &fe) || len(fe.Cells) != 1 || fe.Cells[0].Cell != c.Name() {
		t.Fatalf("Run = %v, want a FailedCellsError naming %s", err, c.Name())
	}
	if !strings.Contains(err.Error(), "watchdog: the cell did not finish within 1ms") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line naming the watchdog", err)
	}
	if retries != 1 {
		t.Errorf("%d retries, want 1", retries)
	}
	b, _ := os.ReadFile(filepath.Join(r.Dir, "bench.txt"))
	if len(FinishedCells(b)) != 0 {
		t.Errorf("bench.txt holds result lines for a failed cell:\n%s", b)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
}

func TestRateFloor(t *testing.T) {
	t.Parallel()
	sec := int64(time.Second)
	for _, tt := range []struct {
		warmOK, ok int64
		fail       bool
	}{
		{1000, 1000, false},
		{1000, 201, false}, // just above 20% of the warm-up rate
		{1000, 199, true},  // just below
		{1000, 0, true},
		{0, 0, false}, // no warm-up: no yardstick
	} {
		rep := &LoadReport{WarmupOK: tt.warmOK, WarmupNs: sec, OK: tt.ok, ElapsedNs: sec}
		if err := checkRate(rep); (err != nil) != tt.fail {
			t.Errorf("warm-up %d req/s, window %d req/s: checkRate = %v, want failure %v", tt.warmOK, tt.ok, err, tt.fail)
		}
	}
}

// The server's served count must match what the load counted. A server
// process whose ready line points the load at a decoy server (whose
// requests the control port does not count) is caught by that check.
func TestServedCountMismatchFailsTheCell(t *testing.T) {
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "poolbench-decoy")
	// For `serve`: start a decoy server, then the real one, and rewrite the
	// real one's ready line so the load talks to the decoy. Both stay in
	// this process group, which the runner stops.
	script := `#!/bin/sh
real="` + binary + `"
if [ "$1" != serve ]; then exec "$real" "$@"; fi
decoy="$(mktemp)"
"$real" serve --json -addr 127.0.0.1:0 -control 127.0.0.1:0 >"$decoy" &
while [ ! -s "$decoy" ]; do sleep 0.01; done
addr=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' "$decoy")
rm -f "$decoy"
"$real" "$@" | sed -u "s/\"addr\":\"[^\"]*\"/\"addr\":\"$addr\"/"
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := quick
	s.ServerCPUs, s.LoadCPUs = "", "" // the wrapper reports no pinning of its own
	r := &Runner{Binary: wrapper, Dir: filepath.Join(dir, "run"), Settings: s, Count: 1}
	err := r.Run(context.Background(), []Cell{testCell(t, "fasthttp", "keepalive", 2)})
	if err == nil || !strings.Contains(err.Error(), "correct responses but the server served 0 requests in the window") {
		t.Fatalf("Run = %v, want the cell failed: the load counted responses the server did not serve", err)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
}

// Side files reach their final name only with their result line: an
// interrupted cell leaves no vegeta results and no staging file.
func TestInterruptedCellLeavesNoSideFile(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := testCell(t, "fasthttp", "bursty", 0)
	r := &Runner{Binary: binary, Dir: dir, Settings: quick, Count: 1,
		OnLoad: func(int) { time.AfterFunc(300*time.Millisecond, cancel) }}
	if err := r.Run(ctx, []Cell{c}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want it cancelled", err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("an interrupted cell left files: %v", left)
	}
}
