package driver

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// byteConn is a net.Conn whose reads come from a fixed response and whose
// writes are dropped: the parser sees exactly the fuzzer's bytes.
type byteConn struct{ r *bytes.Reader }

func (c byteConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (byteConn) Close() error                     { return nil }
func (byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (byteConn) SetDeadline(time.Time) error      { return nil }
func (byteConn) SetReadDeadline(time.Time) error  { return nil }
func (byteConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzResponse feeds arbitrary bytes to the response parser: it must never
// panic, and whatever it accepts must be what the request expected, with
// the whole body read.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\nok",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Length: 99999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nok",
		"HTTP/1.1 2x0 OK\r\n",
		"",
	} {
		f.Add([]byte(s), true)
	}
	req := NewGET("poolbench", "/x", 200, 2)
	f.Fuzz(func(t *testing.T, resp []byte, keepBody bool) {
		c := NewConn(byteConn{bytes.NewReader(resp)}, keepBody)
		err := c.RoundTrip(req)
		var ce *CheckError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a CheckError: the only transport here is a byte slice", err)
		}
		if err != nil {
			return
		}
		if c.Status != 200 || c.BodyLen != 2 {
			t.Fatalf("accepted status %d body %d, want 200 and 2", c.Status, c.BodyLen)
		}
		if keepBody && len(c.Body()) != 2 {
			t.Fatalf("accepted a body of %d bytes, want 2", len(c.Body()))
		}
	})
}
