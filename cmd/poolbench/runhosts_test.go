package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunHostsUsage: bad multi-host flags exit 2 with one line naming the
// flag, before any host is contacted or the run folder is made. No address
// here is ever dialed: the refusals happen while parsing.
func TestRunHostsUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		flag string
	}{
		{"server host alone", []string{"-server-host", "ssh srv"}, "-server-host "},
		{"load hosts alone", []string{"-load-hosts", "ssh lg1"}, "-server-host "},
		{"empty load host", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1,,ssh lg2"}, "-load-hosts "},
		{"remote address without opt-in", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1", "-server-addr", "10.0.0.1:0"}, "-server-addr "},
		{"every interface", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1", "-server-addr", "0.0.0.0:0", "-allow-remote"}, "-server-addr "},
		{"a name", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1", "-server-addr", "srv.example:0", "-allow-remote"}, "-server-addr "},
		{"per-connection workload", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1", "-loads", "idle"}, "-loads "},
		{"profiling", []string{"-server-host", "ssh srv", "-load-hosts", "ssh lg1", "-loads", "keepalive", "-profile"}, "-profile "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "run")
			err := runCmd(context.Background(), append([]string{"-out", out}, tt.args...))
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run %v: %v, want a usage error (exit 2)", tt.args, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.flag) || strings.Contains(msg, "\n") {
				t.Errorf("run %v: %q, want one line starting %q", tt.args, msg, tt.flag)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("run %v: the run folder was made for bad flags", tt.args)
			}
		})
	}
}
