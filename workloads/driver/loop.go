package driver

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Loop drives closed-loop keep-alive round trips on TCP connections from
// one goroutine with its own epoll set, as wrk does from one thread: per
// round trip one write and one read system call, epoll_wait calls shared
// by all connections, no goroutine switch and no trip through the
// runtime's poller. It parses and checks responses as Conn does.
//
// Its system calls are raw (unix.RawSyscall): read and write never block
// (the sockets are non-blocking), and epoll_wait blocks for at most
// maxWait. A goroutine in a runtime-announced blocking system call makes
// the runtime's monitor thread wake every 20µs or so to hand its P to
// another thread and back, which measured as 0.1 nanosleep and 0.1–0.2
// futex calls per request, on the load's CPU. The price is that other
// goroutines of the process (timers, signals) wait for the end of an
// epoll_wait, at most maxWait, or for the monitor's preemption, and that a
// server in the same process gets no CPU from this goroutine's P while it
// waits for that server: a Loop wants a process of its own.
//
// A round trip that gets no response fails with a timeout error after
// 3/4 of Timeout to Timeout.
type Loop struct {
	epfd int
	// in is the buffer reads go to first, shared by all connections.
	in    []byte
	slots []*slot
	// queue holds the slots whose next request waits for sendQueued.
	queue []int
	req   *Request
	// pending counts slots with a connection.
	pending int
	now     time.Time
	// timeout is Timeout, shorter in tests.
	timeout time.Duration
}

// slot is one connection of a Loop.
type slot struct {
	i     int // its index in Loop.slots, its epoll data
	fd    int // -1: closed
	c     Conn
	buf   []byte
	w     int // buf[:w] waits for the next read
	head  bool
	body  int // body bytes still to come once the head is parsed
	out   []byte
	began time.Time
}

// LoopFuncs connect a Loop to the workload's counting.
type LoopFuncs struct {
	// Next reports whether another request may be sent; false ends the
	// connection that asks.
	Next func() bool
	// Done receives every round trip's outcome (nil, a *CheckError or a
	// transport error) and when its request was written; it reports
	// whether the connection must be replaced. A connection is also
	// replaced when the server asked to close it.
	Done func(err error, began time.Time) (replace bool)
	// Dial opens a replacement connection (a *net.TCPConn); on an error
	// the slot ends, and Dial is the one to count it.
	Dial func() (net.Conn, error)
}

// NewLoop takes over conns, which must all be *net.TCPConn: their file
// descriptors leave the runtime's poller for the Loop's epoll set.
func NewLoop(conns []net.Conn, req *Request) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &Loop{epfd: epfd, in: make([]byte, 16<<10), req: req, slots: make([]*slot, len(conns)), queue: make([]int, 0, len(conns)), timeout: Timeout}
	for i := range l.slots {
		l.slots[i] = &slot{i: i, fd: -1, buf: make([]byte, 16<<10)}
	}
	for i, nc := range conns {
		if err := l.adopt(i, nc); err != nil {
			for _, nc := range conns[i+1:] {
				nc.Close()
			}
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// adopt moves nc's socket into slot i: a duplicate descriptor in the
// Loop's epoll set, nc itself closed.
func (l *Loop) adopt(i int, nc net.Conn) error {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return fmt.Errorf("driver loop: a %T is not a *net.TCPConn", nc)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		nc.Close()
		return err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	nc.Close() // the socket stays open through fd; it was non-blocking and stays so
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return os.NewSyscallError("dup", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	s := l.slots[i]
	s.fd, s.w, s.head, s.body, s.out = fd, 0, false, 0, nil
	l.pending++
	return nil
}

// drop closes slot s's connection.
func (l *Loop) drop(s *slot) {
	if s.fd >= 0 {
		unix.Close(s.fd) // leaves the epoll set with its last descriptor
		s.fd = -1
		l.pending--
	}
}

// Close closes every connection the Loop still holds and its epoll set.
func (l *Loop) Close() {
	for _, s := range l.slots {
		l.drop(s)
	}
	if l.epfd >= 0 {
		unix.Close(l.epfd)
		l.epfd = -1
	}
}

// Run sends requests on every connection until f.Next says stop to each of
// them, then closes the Loop.
func (l *Loop) Run(f LoopFuncs) {
	defer l.Close()
	for i, s := range l.slots {
		if s.fd >= 0 {
			l.next(i, f, nil, false)
		}
	}
	l.sendQueued(f)
	events := make([]unix.EpollEvent, 256)
	lastScan := time.Now()
	waitMs := int(min(maxWait, l.timeout/4) / time.Millisecond)
	for l.pending > 0 {
		n, err := epollWait(l.epfd, events, waitMs)
		if err != nil && err != unix.EINTR {
			l.fail(f, os.NewSyscallError("epoll_wait", err))
			return
		}
		for _, ev := range events[:max(n, 0)] {
			i := int(ev.Fd)
			s := l.slots[i]
			if s.fd < 0 {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				if err := l.flush(s); err != nil {
					l.next(i, f, err, true)
					continue
				}
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				if done, err := l.readable(s); done {
					l.next(i, f, err, true)
				}
			}
		}
		if n <= 0 { // nothing for maxWait: let the process's timers and goroutines run
			l.now = time.Now()
			runtime.Gosched()
		}
		if l.now.Sub(lastScan) >= l.timeout/4 {
			lastScan = l.now
			l.expire(f)
		}
		l.sendQueued(f)
	}
}

// maxWait bounds one epoll_wait (see Loop).
const maxWait = 2 * time.Millisecond

// epollWait is unix.EpollWait as a raw system call (see Loop).
func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawIO is a read or write (trap) of fd as a raw system call (see Loop).
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// expire fails the round trips that have waited more than 3/4 of the
// timeout.
func (l *Loop) expire(f LoopFuncs) {
	for i, s := range l.slots {
		if s.fd >= 0 && l.now.Sub(s.began) > l.timeout*3/4 {
			l.next(i, f, fmt.Errorf("driver loop: no response within %v: %w", l.timeout*3/4, os.ErrDeadlineExceeded), true)
		}
	}
}

// fail ends every connection's round trip with err.
func (l *Loop) fail(f LoopFuncs, err error) {
	for _, s := range l.slots {
		if s.fd >= 0 {
			f.Done(err, s.began)
			l.drop(s)
		}
	}
}

// next reports a finished round trip on slot i (when finished), replaces
// the connection if it must, and queues the next request if f.Next allows.
func (l *Loop) next(i int, f LoopFuncs, err error, finished bool) {
	s := l.slots[i]
	if finished && (f.Done(err, s.began) || s.c.Close) {
		l.drop(s)
		nc, err := f.Dial()
		if err != nil {
			return
		}
		if err := l.adopt(i, nc); err != nil {
			f.Done(err, time.Now())
			return
		}
	}
	if !f.Next() {
		l.drop(s)
		return
	}
	l.queue = append(l.queue, i)
}

// sendQueued writes the queued requests. Like wrk, the Loop reads every
// ready response first and then writes the next requests together, so
// they reach the server in a burst rather than one per response read.
func (l *Loop) sendQueued(f LoopFuncs) {
	for j := 0; j < len(l.queue); j++ { // a failed send may queue its slot again
		i := l.queue[j]
		if err := l.send(l.slots[i]); err != nil {
			l.next(i, f, err, true)
		}
	}
	l.queue = l.queue[:0]
}

// send writes the request on s.
func (l *Loop) send(s *slot) error {
	l.now = time.Now()
	s.began, s.head, s.c.Close = l.now, false, false
	s.out = l.req.Raw
	return l.flush(s)
}

// flush writes what is left of the request, waiting for room in the send
// buffer (EPOLLOUT) when it is full.
func (l *Loop) flush(s *slot) error {
	for len(s.out) > 0 {
		n, err := rawIO(unix.SYS_WRITE, s.fd, s.out)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return l.watch(s, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLOUT)
		case err != nil:
			return os.NewSyscallError("write", err)
		}
		s.out = s.out[n:]
		if len(s.out) == 0 && n < len(l.req.Raw) {
			return l.watch(s, unix.EPOLLIN|unix.EPOLLRDHUP) // written after a wait: stop watching for room
		}
	}
	return nil
}

// watch sets the events s's descriptor is watched for.
func (l *Loop) watch(s *slot, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(s.i)}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev))
}

// readable reads once from s and parses what it has; done reports a
// finished round trip, with err its outcome.
func (l *Loop) readable(s *slot) (done bool, err error) {
	// Reads go to the Loop's one buffer, hot in the cache as wrk's is; only
	// a partial head (or bytes after a response) waits in the slot's own.
	in := l.in
	if s.w > 0 {
		in = s.buf[s.w:]
	}
	n, err := rawIO(unix.SYS_READ, s.fd, in)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false, nil
	case err != nil:
		return true, os.NewSyscallError("read", err)
	case n == 0:
		return true, &CheckError{Kind: ErrFraming, Detail: "reading response: server closed the connection: EOF"}
	}
	b := in[:n]
	if s.w > 0 {
		s.w += n
		b = s.buf[:s.w]
	}
	done, rest, err := l.consume(s, b)
	if err != nil {
		return true, err
	}
	s.w = copy(s.buf, rest) // usually nothing
	if !done && s.w == len(s.buf) {
		return true, &CheckError{Kind: ErrFraming, Detail: fmt.Sprintf("reading headers: a head longer than the driver's %d bytes", len(s.buf))}
	}
	return done, err
}

// consume parses b, the bytes of s's response read so far; done reports a
// whole response, with err its check, and rest is what must wait for the
// next read (a partial head, or bytes after the response).
func (l *Loop) consume(s *slot, b []byte) (done bool, rest []byte, err error) {
	if !s.head {
		h, err := s.c.parseHead(b)
		if err != nil || h == 0 {
			return false, b, err
		}
		s.head, s.body, b = true, s.c.BodyLen, b[h:]
	}
	k := min(s.body, len(b))
	s.body -= k
	if s.body > 0 {
		return false, nil, nil
	}
	s.head = false
	return true, b[k:], s.c.check(l.req)
}
