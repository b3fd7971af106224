// Package check holds the flag-value checks poolbench commands share: CPU
// lists, durations, counts, rates and addresses, each returning one line
// that names the flag, the value, what is allowed and the fix.
package check

import (
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// MaxGOMAXPROCS is the largest GOMAXPROCS a command accepts: more Ps than
// this only costs memory (each P has its own caches).
func MaxGOMAXPROCS() int { return max(4*runtime.NumCPU(), 64) }

// MaxRate is the largest request rate the open-loop pacer is asked for:
// one request every 10 µs, above what one loopback client process sends.
const MaxRate = 100_000

// MaxConns is the largest connection count a command accepts.
const MaxConns = 1_000_000

// Error is a flag value that is not allowed.
type Error struct {
	Flag, Value, Want string
}

func (e *Error) Error() string {
	return fmt.Sprintf("-%s %q: want %s", e.Flag, e.Value, e.Want)
}

// Positive checks a duration that must be > 0.
func Positive(flag string, d time.Duration) error {
	if d <= 0 {
		return &Error{flag, d.String(), "a duration > 0, e.g. 2s"}
	}
	return nil
}

// NonNegative checks a duration that may be 0 (meaning a default or none).
func NonNegative(flag string, d time.Duration) error {
	if d < 0 {
		return &Error{flag, d.String(), "a duration ≥ 0, e.g. 500ms (0: none)"}
	}
	return nil
}

// IntRange checks lo ≤ n ≤ hi; hint says what the value is, e.g. "runs".
func IntRange(flag string, n, lo, hi int, hint string) error {
	if n < lo || n > hi {
		return &Error{flag, strconv.Itoa(n), fmt.Sprintf("%s from %d to %d", hint, lo, hi)}
	}
	return nil
}

// GOMAXPROCS checks a GOMAXPROCS flag: 0 keeps the runtime's, else 1 to MaxGOMAXPROCS.
func GOMAXPROCS(flag string, n int) error {
	if n == 0 {
		return nil
	}
	return IntRange(flag, n, 1, MaxGOMAXPROCS(), "GOMAXPROCS (0: the runtime's)")
}

// Online returns the CPUs this process may run on.
func Online() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for c := range 1024 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// CPUList parses a CPU list such as "0", "1-3" or "0,2" and checks that
// every CPU is one this process may run on and none is named twice. An
// empty list means "not pinned" and returns nil, nil.
func CPUList(flag, s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	online, err := Online()
	if err != nil {
		return nil, fmt.Errorf("-%s: reading the cpus this process may use: %w", flag, err)
	}
	have := FormatCPUs(online)
	parsed, err := ParseCPUs(s)
	if err != nil {
		return nil, &Error{flag, s, "a cpu list such as 0, 1-3 or 0,2 (cpus here: " + have + ")"}
	}
	var cpus []int
	for _, c := range parsed {
		if !slices.Contains(online, c) {
			return nil, &Error{flag, s, fmt.Sprintf("cpus that exist here (%s); cpu %d does not", have, c)}
		}
		if slices.Contains(cpus, c) {
			return nil, &Error{flag, s, fmt.Sprintf("each cpu once; cpu %d is named twice", c)}
		}
		cpus = append(cpus, c)
	}
	slices.Sort(cpus)
	return cpus, nil
}

// ParseCPUs parses the syntax of a CPU list such as "0", "1-3" or "0,2",
// in the order given; it does not check the CPUs exist.
func ParseCPUs(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1<<20 {
			return nil, fmt.Errorf("cpu list %q: %q is not a cpu or a range such as 0-1", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// FormatCPUs writes a sorted CPU set as a compact list, e.g. "0-3,6".
func FormatCPUs(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Disjoint checks that two CPU lists share no CPU, unless allowed.
func Disjoint(flagA string, a []int, flagB string, b []int, allowFlag string) error {
	for _, c := range a {
		if slices.Contains(b, c) {
			return fmt.Errorf("-%s %s and -%s %s share cpu %d: want disjoint cpus so the load does not steal the server's time (or give -%s)",
				flagA, FormatCPUs(a), flagB, FormatCPUs(b), c, allowFlag)
		}
	}
	return nil
}

// Distinct checks that a comma-separated list names nothing twice.
func Distinct(flag, list string) error {
	seen := map[string]bool{}
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if seen[v] {
			return &Error{flag, list, fmt.Sprintf("each value once; %q is named twice", v)}
		}
		seen[v] = true
	}
	return nil
}

// HostPort normalizes an address given as host:port or as a URL such as
// http://127.0.0.1:8080 (what `poolbench serve` prints) to host:port.
func HostPort(flag, addr string) (string, error) {
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", &Error{flag, addr, "host:port or http://host:port, e.g. 127.0.0.1:8080"}
		}
		addr = u.Host
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &Error{flag, addr, "host:port or http://host:port, e.g. 127.0.0.1:8080"}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", &Error{flag, addr, "a port from 0 to 65535, e.g. 127.0.0.1:8080"}
	}
	return net.JoinHostPort(host, port), nil
}

// IsLoopback reports whether host (a name or an IP, no port) is on
// loopback: 127.0.0.0/8, ::1 or "localhost". It never resolves a name.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// Address normalizes addr (see HostPort) and, unless allowRemote, refuses
// any host not on loopback, so nothing is sent or served beyond this
// machine without an explicit opt-in. It never dials or resolves.
func Address(flag, addr string, allowRemote bool) (string, error) {
	hp, err := HostPort(flag, addr)
	if err != nil {
		return "", err
	}
	host, _, _ := net.SplitHostPort(hp)
	if !allowRemote && !IsLoopback(host) {
		return "", &Error{flag, addr, "a loopback address (127.0.0.0/8, ::1, localhost), or give --allow-remote to reach beyond this machine"}
	}
	return hp, nil
}
