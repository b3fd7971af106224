package workloads_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// runTraced runs a bursty wave against h and returns its decoded vegeta
// results, in Seq order, and the dials it made.
func runTraced(t *testing.T, b workloads.Bursty, h http.Handler) ([]vegeta.Result, int64) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var rec bytes.Buffer
	res, err := b.Run(context.Background(), func() (net.Conn, error) { return net.Dial("tcp", addr) },
		workloads.Plan{Request: driver.NewGET(addr, "/x", 200, 2), Record: &rec})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(b.Bursts) * int64(b.Wave.PerBurst())
	if res.OK != want || res.Errors.Total() != 0 {
		t.Fatalf("%d ok, errors %v; want %d ok and none", res.OK, res.Errors, want)
	}
	out := make([]vegeta.Result, want)
	dec := vegeta.NewDecoder(&rec)
	for n := 0; ; n++ {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if int64(n) != want {
				t.Fatalf("%d results recorded, want %d", n, want)
			}
			break
		}
		out[r.Seq] = r
	}
	return out, res.Dials
}

// Every result carries a trace whose parts add up to its latency, and the
// connections the traces name are the ones dialed: each carried at most
// one first request (OnConn 0), every burst began on a new one.
func TestBurstyTraceAccountsForEveryRequest(t *testing.T) {
	b := workloads.Bursty{Wave: workloads.SquareWave{PerSecond: 500, On: 100 * time.Millisecond, Off: 300 * time.Millisecond},
		Bursts: 3, ClientIdle: 20 * time.Millisecond}
	rs, dials := runTraced(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })) //nolint:errcheck
	newConns := map[int64]bool{}
	slept := 0
	for _, r := range rs {
		tr, err := workloads.ParseTrace(r.Headers.Get(workloads.TraceHeader))
		if err != nil {
			t.Fatalf("result %d: %v", r.Seq, err)
		}
		if tr.Late >= 0 {
			if sum := time.Duration(tr.Late + tr.Wait + tr.Server + tr.Read); sum != r.Latency {
				t.Errorf("result %d: parts %+v add up to %v, latency %v", r.Seq, tr, sum, r.Latency)
			}
		}
		// The pacer sleeps at most until the next hit is due: one
		// spacing, or a silence and one spacing before a burst.
		if tr.Sleep < 0 || tr.Sleep > int64(b.Wave.Off+time.Second/time.Duration(b.Wave.PerSecond)) {
			t.Errorf("result %d: the pacer asked to sleep %v, want 0..%v", r.Seq, time.Duration(tr.Sleep), b.Wave.Off+time.Second/time.Duration(b.Wave.PerSecond))
		} else if tr.Sleep > 0 {
			slept++
		}
		if tr.Wait < 0 || tr.Server <= 0 || tr.Read < 0 {
			t.Errorf("result %d: parts %+v out of order", r.Seq, tr)
		}
		if tr.Conn < 1 || tr.Conn > dials {
			t.Errorf("result %d on connection %d, want 1..%d", r.Seq, tr.Conn, dials)
		}
		if tr.OnConn == 0 {
			if newConns[tr.Conn] {
				t.Errorf("connection %d carried two first requests", tr.Conn)
			}
			newConns[tr.Conn] = true
		} else if tr.Idle <= 0 {
			t.Errorf("result %d: request %d on connection %d with idle %d, want > 0", r.Seq, tr.OnConn, tr.Conn, tr.Idle)
		}
	}
	if slept == 0 {
		t.Error("no hit records a sleep of the pacer: hits are due 2 ms apart, so it sleeps between them")
	}
	// A dial can lose its request to a connection freed meanwhile (the
	// transport then keeps it idle): no more first requests than dials.
	if n := int64(len(newConns)); n > dials || n < int64(b.Bursts) {
		t.Errorf("%d requests on new connections, %d dials, %d bursts: want between the bursts and the dials", n, dials, b.Bursts)
	}
	// The client drops connections idle 20 ms; silences are 300 ms, so
	// every burst dials at least once.
	if dials < int64(b.Bursts) {
		t.Errorf("%d dials for %d bursts after silences longer than the client's idle timeout", dials, b.Bursts)
	}
}

// A server that answers the first request after each silence late (it
// reads the request's X-Vegeta-Seq, so a load running late cannot move the
// delay to another request): the delay shows in those requests'
// write→response part.
func TestBurstyTracePlantedFirstRequestDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	b := workloads.Bursty{Wave: workloads.SquareWave{PerSecond: 200, On: 100 * time.Millisecond, Off: 150 * time.Millisecond},
		Bursts: 3, ClientIdle: time.Second}
	rs, _ := runTraced(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seq, err := strconv.ParseUint(r.Header.Get("X-Vegeta-Seq"), 10, 64); err == nil && seq%b.Wave.PerBurst() == 0 {
			time.Sleep(delay)
		}
		w.Write([]byte("ok")) //nolint:errcheck
	}))
	per := b.Wave.PerBurst()
	for _, r := range rs {
		tr, err := workloads.ParseTrace(r.Headers.Get(workloads.TraceHeader))
		if err != nil {
			t.Fatalf("result %d: %v", r.Seq, err)
		}
		if r.Seq%per == 0 {
			if tr.Server < int64(delay) {
				t.Errorf("first request of burst %d: write→response %v, want ≥ the planted %v (trace %+v)", r.Seq/per, time.Duration(tr.Server), delay, tr)
			}
		}
	}
}

// A trace survives its header format, and a damaged header is refused.
func TestTraceHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	want := workloads.Trace{Late: 1, Wait: -2, Server: 300000, Read: 4, Conn: 5, OnConn: 0, Idle: 7, InFlight: 8, Sleep: 9}
	got, err := workloads.ParseTrace(string(workloads.AppendTrace(nil, want)))
	if err != nil || got != want {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "late=1", "wait=1 late=2 server=3 read=4 conn=5 onconn=6 idle=7 inflight=8 sleep=9",
		"late=x wait=2 server=3 read=4 conn=5 onconn=6 idle=7 inflight=8 sleep=9"} {
		if _, err := workloads.ParseTrace(bad); err == nil {
			t.Errorf("ParseTrace(%q) accepted", bad)
		}
	}
}

// FuzzParseTrace: ParseTrace reads results files from disk; it must never
// panic, and what it accepts must format back to an equal trace.
func FuzzParseTrace(f *testing.F) {
	f.Add("late=1 wait=2 server=3 read=4 conn=5 onconn=6 idle=7 inflight=8 sleep=9")
	f.Add("late=1 wait=2")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := workloads.ParseTrace(s)
		if err != nil {
			return
		}
		back, err := workloads.ParseTrace(string(workloads.AppendTrace(nil, tr)))
		if err != nil || back != tr {
			t.Fatalf("%q: %+v reformatted to %+v, %v", s, tr, back, err)
		}
	})
}
