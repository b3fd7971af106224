// Package observe measures the mechanism behind a client pool failure, not
// only its symptom: the kernel's TCP socket states on each side of a
// server port over time (sock_diag netlink, /proc/net/tcp as fallback),
// how each connection was used and closed (a counting dialer and conn
// wrapper for fasthttp, httptrace for net/http), and what the server saw
// (requests served, peak concurrent handlers, duplicate request ids,
// connections accepted and closed).
package observe

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCP states as the kernel numbers them (include/net/tcp_states.h).
const (
	stEstablished = 1
	stFinWait2    = 5
	stTimeWait    = 6
	stCloseWait   = 8
	stListen      = 10
)

// States counts one side's sockets by TCP state.
type States struct {
	Established int `json:"established"`
	TimeWait    int `json:"time_wait"`
	CloseWait   int `json:"close_wait"`
	FinWait2    int `json:"fin_wait2"`
}

func (s *States) add(state uint8) {
	switch state {
	case stEstablished:
		s.Established++
	case stTimeWait:
		s.TimeWait++
	case stCloseWait:
		s.CloseWait++
	case stFinWait2:
		s.FinWait2++
	}
}

// Snapshot is the socket states of a scenario's server ports at one time.
// A socket whose local port is a server port is the server's side; one whose
// remote port is, the client's. A TIME_WAIT socket belongs to the side that
// closed first (the active closer), so Server.TimeWait counts closes the
// server began and Client.TimeWait those the client began.
type Snapshot struct {
	// At is the time since the watch began.
	At     time.Duration `json:"at_ns"`
	Client States        `json:"client"`
	Server States        `json:"server"`
}

// Source says where socket states are read from: "sock_diag" (netlink) or
// "/proc/net/tcp" where netlink is refused.
func Source() string {
	if _, err := dumpDiag(unix.AF_INET, watched, 1, 0); err == nil {
		return "sock_diag"
	}
	return "/proc/net/tcp"
}

// Sockets counts the socket states on both sides of the given server ports.
func Sockets(ports ...int) (Snapshot, error) {
	var snap Snapshot
	if socks, err := dumpPorts(ports); err == nil {
		for _, s := range socks {
			if s.server {
				snap.Server.add(s.state)
			} else {
				snap.Client.add(s.state)
			}
		}
		return snap, nil
	}
	socks, err := dumpProc()
	if err != nil {
		return snap, err
	}
	for _, s := range socks {
		for _, p := range ports {
			switch {
			case s.state == stListen:
			case int(s.sport) == p:
				snap.Server.add(s.state)
			case int(s.dport) == p:
				snap.Client.add(s.state)
			}
		}
	}
	return snap, nil
}

type sock struct {
	state        uint8
	sport, dport uint16
	server       bool
}

// watched is the kernel's state mask for the states Snapshot counts.
const watched = 1<<stEstablished | 1<<stFinWait2 | 1<<stTimeWait | 1<<stCloseWait

// dumpPorts asks the kernel, for each port and family, for the sockets
// whose local port (the server's) or remote port (the client's) it is:
// the kernel filters by port and state, so a machine full of other
// sockets costs little.
func dumpPorts(ports []int) ([]sock, error) {
	var all []sock
	for _, p := range ports {
		for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
			for _, server := range []bool{true, false} {
				var sport, dport uint16
				if server {
					sport = uint16(p)
				} else {
					dport = uint16(p)
				}
				s, err := dumpDiag(fam, watched, sport, dport)
				if err != nil {
					return nil, err
				}
				for i := range s {
					s[i].server = server
				}
				all = append(all, s...)
			}
		}
	}
	return all, nil
}

// dumpDiag asks the kernel for the TCP sockets of family in the states of
// mask, and with the given local and remote ports where not 0, through a
// NETLINK_SOCK_DIAG inet_diag_req_v2 dump.
func dumpDiag(family uint8, mask uint32, sport, dport uint16) ([]sock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	// nlmsghdr (16) + inet_diag_req_v2 (56): family, protocol, ext, pad,
	// states mask, then inet_diag_sockid: big-endian ports, zero addresses.
	req := make([]byte, 16+56)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	req[16], req[17] = family, unix.IPPROTO_TCP
	ne.PutUint32(req[20:], mask)
	binary.BigEndian.PutUint16(req[24:], sport)
	binary.BigEndian.PutUint16(req[26:], dport)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []sock
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(ne.Uint32(m.Data)); e != 0 {
						return nil, fmt.Errorf("sock_diag: %w", unix.Errno(-e))
					}
				}
				return out, nil
			}
			// inet_diag_msg: family, state, timer, retrans, then the
			// sockid whose ports are big-endian.
			if len(m.Data) < 8 {
				continue
			}
			s := sock{state: m.Data[1], sport: binary.BigEndian.Uint16(m.Data[4:]), dport: binary.BigEndian.Uint16(m.Data[6:])}
			// Kernels that ignore the port filter return everything.
			if sport != 0 && s.sport != sport || dport != 0 && s.dport != dport {
				continue
			}
			out = append(out, s)
		}
	}
}

// dumpProc reads /proc/net/tcp and tcp6 where netlink is not allowed.
func dumpProc() ([]sock, error) {
	var out []sock
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading socket states: %w", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text()) // sl local rem st ...
			if len(fields) < 4 {
				continue
			}
			st, err1 := strconv.ParseUint(fields[3], 16, 8)
			lp, err2 := hexPort(fields[1])
			rp, err3 := hexPort(fields[2])
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			out = append(out, sock{state: uint8(st), sport: lp, dport: rp})
		}
		fh.Close()
	}
	return out, nil
}

func hexPort(addr string) (uint16, error) {
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	return uint16(p), err
}

// Timeline is socket-state snapshots taken during a run and at its end.
type Timeline struct {
	Source  string     `json:"source"`
	Samples []Snapshot `json:"samples"`
}

// Last is the final snapshot (zero if none).
func (t *Timeline) Last() Snapshot {
	if len(t.Samples) == 0 {
		return Snapshot{}
	}
	return t.Samples[len(t.Samples)-1]
}

// Peak is the highest count of a state over the timeline, by f.
func (t *Timeline) Peak(f func(Snapshot) int) int {
	m := 0
	for _, s := range t.Samples {
		m = max(m, f(s))
	}
	return m
}

// Watcher samples the socket states of a set of ports over time.
type Watcher struct {
	ports      []int
	t0         time.Time
	mu         sync.Mutex
	tl         Timeline
	done, quit chan struct{}
}

// Watch samples the socket states of ports every interval until Stop;
// every 0 samples only at the start, on Sample and at Stop.
func Watch(every time.Duration, ports ...int) *Watcher {
	w := &Watcher{ports: ports, t0: time.Now(), tl: Timeline{Source: Source()}, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.Sample()
		if every <= 0 {
			<-w.quit
			return
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
				w.Sample()
			}
		}
	}()
	return w
}

// Sample takes one snapshot now, besides the periodic ones: call it at the
// moment the mechanism should be visible (e.g. just before a request).
func (w *Watcher) Sample() {
	s, err := Sockets(w.ports...)
	if err != nil {
		return
	}
	s.At = time.Since(w.t0)
	w.mu.Lock()
	w.tl.Samples = append(w.tl.Samples, s)
	w.mu.Unlock()
}

// Stop ends the sampling, takes a last sample after settle (for closes to
// land) and returns the timeline, in time order.
func (w *Watcher) Stop(settle time.Duration) Timeline {
	close(w.quit)
	<-w.done
	time.Sleep(settle)
	w.Sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortStableFunc(w.tl.Samples, func(a, b Snapshot) int { return cmp.Compare(a.At, b.At) })
	return w.tl
}
