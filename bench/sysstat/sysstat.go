// Package sysstat reads the kernel's own counters for a cell's window: a
// process's CPU time, context switches and system calls from /proc/<pid>,
// the CPUs' busy and steal time from /proc/stat, and the TCP stack's
// counters from /proc/net/netstat and /proc/net/snmp. Counters are
// cumulative; subtract two snapshots (Sub) to get a window.
package sysstat

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clkTck is USER_HZ, the unit of /proc/stat and /proc/<pid>/stat times. It
// is 100 on every Linux architecture Go supports.
const clkTck = 100

// tickNanos converts clock ticks to nanoseconds.
const tickNanos = int64(1e9 / clkTck)

// Proc is one process's counters, summed over its threads.
type Proc struct {
	// UserNanos and SysNanos are CPU time in user and kernel mode (clock-tick resolution).
	UserNanos int64 `json:"user_ns"`
	SysNanos  int64 `json:"sys_ns"`
	// Voluntary and Involuntary are context switches: the process blocked
	// (waiting for I/O, a lock, a timer) or was preempted.
	Voluntary   int64 `json:"voluntary_csw"`
	Involuntary int64 `json:"involuntary_csw"`
	// ReadCalls and WriteCalls count read- and write-like system calls
	// (/proc/<pid>/io syscr and syscw); ReadBytes and WriteBytes the bytes
	// they moved (rchar, wchar: sockets included).
	ReadCalls  int64 `json:"syscr"`
	WriteCalls int64 `json:"syscw"`
	ReadBytes  int64 `json:"rchar"`
	WriteBytes int64 `json:"wchar"`
}

// Sub returns p - q, the counters of the window between snapshots q and p.
func (p Proc) Sub(q Proc) Proc {
	return Proc{
		UserNanos: p.UserNanos - q.UserNanos, SysNanos: p.SysNanos - q.SysNanos,
		Voluntary: p.Voluntary - q.Voluntary, Involuntary: p.Involuntary - q.Involuntary,
		ReadCalls: p.ReadCalls - q.ReadCalls, WriteCalls: p.WriteCalls - q.WriteCalls,
		ReadBytes: p.ReadBytes - q.ReadBytes, WriteBytes: p.WriteBytes - q.WriteBytes,
	}
}

// ReadProc reads pid's counters ("self" for this process). Context switches
// are summed over /proc/<pid>/task/*/status: the process's own status file
// counts only its first thread.
func ReadProc(pid string) (Proc, error) {
	var p Proc
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return p, fmt.Errorf("reading process counters: %w", err)
	}
	f, err := statFields(stat)
	if err != nil {
		return p, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	// Fields after the command: state is field 3; utime 14, stime 15.
	p.UserNanos = atoi(f[14-3]) * tickNanos
	p.SysNanos = atoi(f[15-3]) * tickNanos
	iob, err := os.ReadFile(filepath.Join("/proc", pid, "io"))
	if err != nil {
		return p, fmt.Errorf("reading process I/O counters: %w", err)
	}
	p.ReadCalls, p.WriteCalls = value(iob, "syscr"), value(iob, "syscw")
	p.ReadBytes, p.WriteBytes = value(iob, "rchar"), value(iob, "wchar")
	// A process's control endpoint reads this in the windows it measures:
	// the threads' status files are read into one buffer and scanned in
	// place, so the reading allocates little.
	dir := filepath.Join("/proc", pid, "task")
	tasks, err := readDirNames(dir)
	if err != nil || len(tasks) == 0 {
		return p, fmt.Errorf("listing the threads of process %s: %v", pid, err)
	}
	buf := make([]byte, 8<<10)
	for _, t := range tasks {
		b, err := readInto(buf, dir+"/"+t+"/status")
		if err != nil {
			continue // the thread exited between the listing and the read
		}
		p.Voluntary += value(b, "voluntary_ctxt_switches")
		p.Involuntary += value(b, "nonvoluntary_ctxt_switches")
	}
	return p, nil
}

// readDirNames lists the names in dir.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// readInto reads the file at path into buf (a /proc file fits) and returns
// the part read.
func readInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err == io.EOF || m == 0 {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf[:n], nil
}

// value returns the number after "key:" at the start of a line of b, or 0
// when no line has it. It does not allocate.
func value(b []byte, key string) int64 {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(key) && line[len(key)] == ':' && string(line[:len(key)]) == key {
			var n int64
			for _, d := range bytes.TrimSpace(line[len(key)+1:]) {
				if d < '0' || d > '9' {
					break
				}
				n = n*10 + int64(d-'0')
			}
			return n
		}
	}
	return 0
}

// statFields splits /proc/<pid>/stat after the parenthesised command name
// (which may hold spaces), starting at the state field.
func statFields(b []byte) ([]string, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15-3+1 {
		return nil, fmt.Errorf("%d fields, want at least 13 after the command", len(f))
	}
	return f, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// CPU is one CPU's time from /proc/stat, in nanoseconds.
type CPU struct {
	// Busy is user, nice, system, irq and softirq time: the CPU ran something.
	Busy int64 `json:"busy_ns"`
	// Idle is idle and iowait time.
	Idle int64 `json:"idle_ns"`
	// Steal is time the hypervisor gave this virtual CPU's turn to another guest.
	Steal int64 `json:"steal_ns"`
	// IRQ is the irq and softirq part of Busy: interrupt work, such as
	// loopback TCP's packet processing, that no process's CPU time counts.
	IRQ int64 `json:"irq_ns"`
}

// Sub returns c - d.
func (c CPU) Sub(d CPU) CPU {
	return CPU{Busy: c.Busy - d.Busy, Idle: c.Idle - d.Idle, Steal: c.Steal - d.Steal, IRQ: c.IRQ - d.IRQ}
}

// ReadCPUs reads every CPU's times from /proc/stat, indexed by CPU number.
func ReadCPUs() (map[int]CPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, fmt.Errorf("reading CPU times: %w", err)
	}
	return parseCPUs(b)
}

func parseCPUs(b []byte) (map[int]CPU, error) {
	out := map[int]CPU{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		// user nice system idle iowait irq softirq steal ...
		v := make([]int64, 8)
		for i := range v {
			v[i] = atoi(f[1+i]) * tickNanos
		}
		out[n] = CPU{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3] + v[4], Steal: v[7], IRQ: v[5] + v[6]}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/stat: no per-CPU lines")
	}
	return out, nil
}

// TCP holds the TCP stack counters that explain tail latency and failed
// connections, for the network namespace of the reading process.
type TCP struct {
	// ListenOverflows and ListenDrops count SYNs or ACKs dropped because an
	// accept queue was full.
	ListenOverflows int64 `json:"listen_overflows"`
	ListenDrops     int64 `json:"listen_drops"`
	// SynRetrans counts retransmitted SYNs (a client waited ≥ 1 s for one).
	SynRetrans int64 `json:"syn_retrans"`
	// RetransSegs counts retransmitted segments.
	RetransSegs int64 `json:"retrans_segs"`
	// OutRsts counts resets sent; EstabResets connections reset while established.
	OutRsts     int64 `json:"out_rsts"`
	EstabResets int64 `json:"estab_resets"`
	// ActiveOpens and PassiveOpens count connections opened by connect and by accept.
	ActiveOpens  int64 `json:"active_opens"`
	PassiveOpens int64 `json:"passive_opens"`
	// AttemptFails counts connects that failed.
	AttemptFails int64 `json:"attempt_fails"`
}

// Sub returns t - u.
func (t TCP) Sub(u TCP) TCP {
	return TCP{
		ListenOverflows: t.ListenOverflows - u.ListenOverflows, ListenDrops: t.ListenDrops - u.ListenDrops,
		SynRetrans: t.SynRetrans - u.SynRetrans, RetransSegs: t.RetransSegs - u.RetransSegs,
		OutRsts: t.OutRsts - u.OutRsts, EstabResets: t.EstabResets - u.EstabResets,
		ActiveOpens: t.ActiveOpens - u.ActiveOpens, PassiveOpens: t.PassiveOpens - u.PassiveOpens,
		AttemptFails: t.AttemptFails - u.AttemptFails,
	}
}

// ReadTCP reads the counters from /proc/net/netstat and /proc/net/snmp.
func ReadTCP() (TCP, error) {
	var t TCP
	netstat, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return t, fmt.Errorf("reading TCP counters: %w", err)
	}
	snmp, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return t, fmt.Errorf("reading TCP counters: %w", err)
	}
	ext, err := headerValues(netstat, "TcpExt")
	if err != nil {
		return t, fmt.Errorf("/proc/net/netstat: %w", err)
	}
	tcp, err := headerValues(snmp, "Tcp")
	if err != nil {
		return t, fmt.Errorf("/proc/net/snmp: %w", err)
	}
	t.ListenOverflows, t.ListenDrops, t.SynRetrans = ext["ListenOverflows"], ext["ListenDrops"], ext["TCPSynRetrans"]
	t.RetransSegs, t.OutRsts, t.EstabResets = tcp["RetransSegs"], tcp["OutRsts"], tcp["EstabResets"]
	t.ActiveOpens, t.PassiveOpens, t.AttemptFails = tcp["ActiveOpens"], tcp["PassiveOpens"], tcp["AttemptFails"]
	return t, nil
}

// headerValues parses the two-line "Prefix: names" / "Prefix: values"
// tables of /proc/net/netstat and /proc/net/snmp for one prefix.
func headerValues(b []byte, prefix string) (map[string]int64, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != prefix+":" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		if len(f)-1 != len(names) {
			return nil, fmt.Errorf("%s: %d names but %d values", prefix, len(names), len(f)-1)
		}
		out := make(map[string]int64, len(names))
		for i, n := range names {
			out[n] = atoi(f[1+i])
		}
		return out, nil
	}
	return nil, fmt.Errorf("no %s table", prefix)
}
