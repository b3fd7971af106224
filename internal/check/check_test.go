package check

import (
	"strings"
	"testing"
	"time"
)

// These tests never dial: Address only parses, so refusing a remote
// address sends nothing anywhere.
func TestAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		allowRemote bool
		want        string // normalized host:port, or "" for an error
		msg         string
	}{
		{"127.0.0.1:8080", false, "127.0.0.1:8080", ""},
		{"http://127.0.0.1:8080", false, "127.0.0.1:8080", ""},
		{"http://127.0.0.1:8080/", false, "127.0.0.1:8080", ""},
		{"127.9.9.9:1", false, "127.9.9.9:1", ""},
		{"[::1]:80", false, "[::1]:80", ""},
		{"localhost:0", false, "localhost:0", ""},
		{"0.0.0.0:0", false, "", "--allow-remote"},
		{":8080", false, "", "--allow-remote"},
		{"10.0.0.1:80", false, "", "loopback"},
		{"http://192.0.2.1:80", false, "", "loopback"},
		{"example.com:80", false, "", "loopback"},
		{"[::]:80", false, "", "loopback"},
		{"192.0.2.1:80", true, "192.0.2.1:80", ""},
		{"0.0.0.0:0", true, "0.0.0.0:0", ""},
		{"127.0.0.1", false, "", "host:port"},
		{"127.0.0.1:99999", false, "", "port from 0 to 65535"},
		{"https://127.0.0.1:1", false, "", "host:port"},
		{"http://127.0.0.1:1/x", false, "", "host:port"},
		{"a:b:c", false, "", "host:port"},
	}
	for _, tt := range tests {
		got, err := Address("addr", tt.in, tt.allowRemote)
		if tt.want != "" {
			if err != nil || got != tt.want {
				t.Errorf("Address(%q, %v) = %q, %v; want %q", tt.in, tt.allowRemote, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), `-addr "`+tt.in+`"`) {
			t.Errorf("Address(%q, %v) = %q, %v; want an error naming -addr %q and containing %q", tt.in, tt.allowRemote, got, err, tt.in, tt.msg)
		}
	}
}

func TestCPUList(t *testing.T) {
	t.Parallel()
	online, err := Online()
	if err != nil || len(online) == 0 {
		t.Fatalf("Online() = %v, %v", online, err)
	}
	first := online[0]
	if got, err := CPUList("cpus", FormatCPUs(online)); err != nil || len(got) != len(online) {
		t.Errorf("CPUList(every online cpu) = %v, %v; want %v", got, err, online)
	}
	if got, err := CPUList("cpus", ""); err != nil || got != nil {
		t.Errorf(`CPUList("") = %v, %v; want nil, nil (not pinned)`, got, err)
	}
	for in, msg := range map[string]string{
		"1024":                          "does not",
		"0-100000":                      "does not",
		"-1":                            "cpu list such as",
		"x":                             "cpu list such as",
		"3-1":                           "cpu list such as",
		itoa(first) + "," + itoa(first): "named twice",
	} {
		if _, err := CPUList("cpus", in); err == nil || !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), "-cpus ") {
			t.Errorf("CPUList(%q) error %v, want one naming -cpus and containing %q", in, err, msg)
		}
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string // "" for nil
	}{
		{Positive("duration", 0), `-duration "0s": want a duration > 0`},
		{Positive("duration", time.Second), ""},
		{NonNegative("warmup", -time.Second), `-warmup "-1s": want a duration ≥ 0`},
		{NonNegative("warmup", 0), ""},
		{GOMAXPROCS("gomaxprocs", 1_000_000_000), `-gomaxprocs "1000000000": want GOMAXPROCS`},
		{GOMAXPROCS("gomaxprocs", -1), `-gomaxprocs "-1"`},
		{GOMAXPROCS("gomaxprocs", 0), ""},
		{IntRange("count", 0, 1, 10, "runs"), `-count "0": want runs from 1 to 10`},
		{Distinct("keepalive-conns", "1,16,1"), `"1" is named twice`},
		{Distinct("keepalive-conns", "1,16"), ""},
		{Disjoint("server-cpus", []int{1}, "load-cpus", []int{0, 1}, "allow-shared-cpus"), "share cpu 1"},
		{Disjoint("server-cpus", []int{1}, "load-cpus", []int{0}, "allow-shared-cpus"), ""},
	} {
		switch {
		case tt.want == "" && tt.err != nil:
			t.Errorf("got %v, want nil", tt.err)
		case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
			t.Errorf("got %v, want an error containing %q", tt.err, tt.want)
		}
	}
}

func itoa(n int) string { return FormatCPUs([]int{n}) }

func TestFormatCPUs(t *testing.T) {
	t.Parallel()
	if got := FormatCPUs([]int{0, 1, 2, 5, 7, 8}); got != "0-2,5,7-8" {
		t.Errorf("FormatCPUs = %q, want 0-2,5,7-8", got)
	}
}
