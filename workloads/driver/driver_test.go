package driver

import (
	"errors"
	"io"
	"net"
	"testing"
)

// serveCanned answers every request on the server side of a pipe with resp.
func serveCanned(t *testing.T, resp string) *Conn {
	t.Helper()
	client, server := net.Pipe()
	raw := []byte(resp)
	go func() {
		defer server.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := server.Read(buf); err != nil {
				return
			}
			if _, err := server.Write(raw); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { client.Close() })
	return NewConn(client, true)
}

func TestRoundTripChecks(t *testing.T) {
	t.Parallel()
	req := NewGET("x", "/", 200, 5)
	tests := []struct {
		name, resp string
		wantKind   error
	}{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", nil},
		{"ok_lowercase_header", "HTTP/1.1 200 OK\r\ncontent-length:5\r\n\r\nhello", nil},
		{"wrong_status", "HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\nhello", ErrStatus},
		{"short_body", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhell", ErrBodyLen},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ErrFraming},
		{"no_length", "HTTP/1.1 200 OK\r\n\r\n", ErrFraming},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", ErrFraming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := serveCanned(t, tt.resp)
			err := c.RoundTrip(req)
			if tt.wantKind == nil {
				if err != nil || string(c.Body()) != "hello" {
					t.Fatalf("RoundTrip = %v, body %q; want nil, %q", err, c.Body(), "hello")
				}
				return
			}
			if !errors.Is(err, tt.wantKind) {
				t.Fatalf("RoundTrip error = %v, want %v", err, tt.wantKind)
			}
		})
	}
}

func TestRoundTripServerClosed(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	go func() {
		buf := make([]byte, 512)
		server.Read(buf)
		io.WriteString(server, "HTTP/1.1 200 OK\r\nContent-Len")
		server.Close()
	}()
	defer client.Close()
	err := NewConn(client, false).RoundTrip(NewGET("x", "/", 200, 5))
	if !errors.Is(err, ErrFraming) {
		t.Fatalf("RoundTrip on a connection closed mid-response = %v, want %v", err, ErrFraming)
	}
}

// TestRoundTripTCPServerClosed is TestRoundTripServerClosed on the raw read
// path: a response cut short by the server's close is a framing error, and
// the next round trip on the closed connection fails too.
func TestRoundTripTCPServerClosed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 512)
		nc.Read(buf)
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Len")
		nc.Close()
	}()
	nc, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc, false)
	defer c.CloseConn()
	req := NewGET("x", "/", 200, 5)
	if err := c.RoundTrip(req); !errors.Is(err, ErrFraming) {
		t.Fatalf("RoundTrip on a connection closed mid-response = %v, want %v", err, ErrFraming)
	}
	if err := c.RoundTrip(req); err == nil {
		t.Fatal("RoundTrip on a connection the server closed = nil, want an error")
	}
}
