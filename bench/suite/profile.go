package suite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Profile is `make profile`: profiling runs of the process layer (the
// server's own allocation and CPU profiles per cell, apart from timing runs)
// into dir/profiles/, then the allocations table of profiles.md.
func Profile(ctx context.Context, dir, poolbench string, extra []string, out, errw io.Writer, tty bool) error {
	if dir == "" {
		dir = filepath.Join("results", time.Now().UTC().Format("20060102-150405")+"-"+strings.TrimSuffix(gitSHA(ctx), "-dirty"))
	}
	args := ProfileArgs(dir, append([]string{"-duration", "2s"}, extra...))
	n, err := procCells(args[1:])
	if err != nil {
		return &UsageError{fmt.Sprintf("-proc-flags %q: %v", strings.Join(extra, " "), err)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := RunProcess(ctx, poolbench, args, "profile", n, errw, tty); err != nil {
		return err
	}
	md, err := os.ReadFile(filepath.Join(dir, "profiles", "profiles.md"))
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprint(out, mdSection(string(md), "## Allocations per request"))
	fmt.Fprintf(out, "Open one: make pprof RUN=%s CELL=<cell path from the table above>\n", dir)
	return nil
}

// mdSection is the markdown section starting at the heading, up to the next
// heading of the same level.
func mdSection(md, heading string) string {
	i := strings.Index(md, heading)
	if i < 0 {
		return ""
	}
	rest := md[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j+1]
	}
	return heading + rest
}
