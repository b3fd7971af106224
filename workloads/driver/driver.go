// Package driver is poolbench's lean HTTP/1.1 load client: pre-encoded request
// bytes written to a net.Conn, responses parsed and checked for status and
// body length without allocating. Every server model is driven by this same
// code, so differences in the numbers come from the servers.
package driver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Request is a pre-encoded HTTP/1.1 request and the response it must get.
type Request struct {
	// Target is the request's path and query.
	Target string
	// Raw is the request exactly as written to the wire.
	Raw []byte
	// Status is the expected status code.
	Status int
	// BodyLen is the expected body length; -1 accepts any.
	BodyLen int
}

// NewGET encodes a keep-alive GET of target (path and query) for host. It
// carries the one header wrk's requests carry, Host, so that a server does
// the same work for the driver's requests as for wrk's (a User-Agent cost
// net/http one more allocation per request).
func NewGET(host, target string, status, bodyLen int) *Request {
	raw := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	return &Request{Target: target, Raw: []byte(raw), Status: status, BodyLen: bodyLen}
}

// Errors a response check reports; a *CheckError wraps one of them.
var (
	ErrStatus  = errors.New("unexpected status")
	ErrBodyLen = errors.New("unexpected body length")
	ErrFraming = errors.New("malformed response")
)

// CheckError says how a response differed from the Request's expectation.
type CheckError struct {
	Kind      error // ErrStatus, ErrBodyLen or ErrFraming
	Got, Want int
	Detail    string
}

func (e *CheckError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%v: %s", e.Kind, e.Detail)
	}
	return fmt.Sprintf("%v: got %d, want %d", e.Kind, e.Got, e.Want)
}

func (e *CheckError) Unwrap() error { return e.Kind }

// Conn is one client connection. It is not safe for concurrent use.
type Conn struct {
	nc net.Conn
	br *bufio.Reader

	// Status and BodyLen describe the last response read.
	Status  int
	BodyLen int
	// Close reports that the last response asked to close the connection.
	Close bool

	keepBody bool
	body     []byte
	// deadline is the read/write deadline last set on nc; RoundTrip moves
	// it forward once half of Timeout has passed.
	deadline time.Time
}

// MaxBody is the largest response body the driver accepts: a bad
// Content-Length must not make it allocate or wait for terabytes.
const MaxBody = 64 << 20

// Timeout bounds every round trip: a server that stops answering fails the
// request with a timeout instead of hanging the load. It is set as a
// connection deadline refreshed every Timeout/2, so a round trip fails
// after at most Timeout and at least Timeout/2 of silence.
const Timeout = 10 * time.Second

// NewConn wraps nc. With keepBody, Body returns the last response's body.
func NewConn(nc net.Conn, keepBody bool) *Conn {
	return &Conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), keepBody: keepBody}
}

// Body returns the last response's body (only with keepBody); it is
// overwritten by the next round trip.
func (c *Conn) Body() []byte { return c.body }

// CloseConn closes the connection from the client side.
func (c *Conn) CloseConn() error { return c.nc.Close() }

// RoundTrip writes req and reads one response, checking it against req.
// Transport errors are returned as they are; check failures as *CheckError.
func (c *Conn) RoundTrip(req *Request) error {
	if now := time.Now(); c.deadline.Sub(now) < Timeout/2 {
		c.deadline = now.Add(Timeout)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			return err
		}
	}
	if _, err := c.nc.Write(req.Raw); err != nil {
		return err
	}
	if err := c.readResponse(); err != nil {
		return err
	}
	return c.check(req)
}

// check compares the last response with req's expectation.
func (c *Conn) check(req *Request) error {
	if c.Status != req.Status {
		return &CheckError{Kind: ErrStatus, Got: c.Status, Want: req.Status}
	}
	if req.BodyLen >= 0 && c.BodyLen != req.BodyLen {
		return &CheckError{Kind: ErrBodyLen, Got: c.BodyLen, Want: req.BodyLen}
	}
	return nil
}

var (
	headerContentLength    = []byte("content-length:")
	headerTransferEncoding = []byte("transfer-encoding:")
	headerConnection       = []byte("connection:")
	valueClose             = []byte("close")
)

// statusLine parses a response's first line and resets c's response
// fields.
func (c *Conn) statusLine(line []byte) error {
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 14 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return &CheckError{Kind: ErrFraming, Detail: "bad status line"}
	}
	st := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return &CheckError{Kind: ErrFraming, Detail: "bad status code"}
		}
		st = st*10 + int(d-'0')
	}
	c.Status, c.BodyLen, c.Close = st, -1, false
	return nil
}

// headerLine applies one header line (not the empty one ending the head).
func (c *Conn) headerLine(line []byte) error {
	switch {
	case hasPrefixFold(line, headerContentLength):
		n, ok := parseUint(line[len(headerContentLength):])
		if !ok {
			return &CheckError{Kind: ErrFraming, Detail: "bad Content-Length"}
		}
		if n > MaxBody {
			return &CheckError{Kind: ErrFraming, Detail: fmt.Sprintf("Content-Length %d is above the driver's %d", n, MaxBody)}
		}
		c.BodyLen = n
	case hasPrefixFold(line, headerTransferEncoding):
		return &CheckError{Kind: ErrFraming, Detail: "chunked responses are not supported: the server must send Content-Length"}
	case hasPrefixFold(line, headerConnection):
		c.Close = bytes.EqualFold(bytes.TrimSpace(line[len(headerConnection):]), valueClose)
	}
	return nil
}

// endOfHead reports whether line is the empty line ending a head.
func endOfHead(line []byte) bool { return len(line) <= 2 } // "\r\n"

// errNoLength is the framing error of a head without Content-Length.
var errNoLength = &CheckError{Kind: ErrFraming, Detail: "response without Content-Length"}

func (c *Conn) readResponse() error {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return framing(err, "reading status line")
	}
	if err := c.statusLine(line); err != nil {
		return err
	}
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return framing(err, "reading headers")
		}
		if endOfHead(line) {
			break
		}
		if err := c.headerLine(line); err != nil {
			return err
		}
	}
	if c.BodyLen < 0 {
		return errNoLength
	}
	if !c.keepBody {
		if _, err := c.br.Discard(c.BodyLen); err != nil {
			return framing(err, "reading body")
		}
		return nil
	}
	if cap(c.body) < c.BodyLen {
		c.body = make([]byte, c.BodyLen)
	}
	c.body = c.body[:c.BodyLen]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		return framing(err, "reading body")
	}
	return nil
}

// parseHead parses the response head at the start of b, as readResponse
// does from the connection. It returns the head's length, or 0 while b
// holds no whole head yet.
func (c *Conn) parseHead(b []byte) (int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, nil
	}
	if err := c.statusLine(b[:i+1]); err != nil {
		return 0, err
	}
	for n := i + 1; ; {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return 0, nil
		}
		line := b[n : n+i+1]
		n += i + 1
		if endOfHead(line) {
			if c.BodyLen < 0 {
				return 0, errNoLength
			}
			return n, nil
		}
		if err := c.headerLine(line); err != nil {
			return 0, err
		}
	}
}

// framing reports a read error: EOF before a whole response is a framing
// error (the server closed early), anything else is the transport's error.
func framing(err error, while string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, bufio.ErrBufferFull) {
		return &CheckError{Kind: ErrFraming, Detail: while + ": " + err.Error()}
	}
	return err
}

// hasPrefixFold reports whether line starts with the lower-case prefix p,
// ignoring ASCII case.
func hasPrefixFold(line, p []byte) bool {
	if len(line) < len(p) {
		return false
	}
	for i, c := range p {
		l := line[i]
		if 'A' <= l && l <= 'Z' {
			l += 'a' - 'A'
		}
		if l != c {
			return false
		}
	}
	return true
}

// parseUint parses a decimal header value with surrounding spaces and CRLF.
func parseUint(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	return n, true
}

// Reset points c at a new connection, keeping its buffers.
func (c *Conn) Reset(nc net.Conn) {
	c.nc = nc
	c.br.Reset(nc)
	c.deadline = time.Time{}
}
