package sysstat

import (
	"testing"
	"time"
)

// TestClockReading: each bucket counts its fastest tick only (a preempted
// tick is slow, never the fastest), and the span keeps the window's last
// part (the warm-up before it is left out).
func TestClockReading(t *testing.T) {
	t0 := time.Unix(1000, 0) // on a bucket boundary
	var ticks []clockTick
	add := func(bucket int, nanos ...int64) {
		for i, n := range nanos {
			ticks = append(ticks, clockTick{at: t0.Add(time.Duration(bucket)*ClockBucket + time.Duration(i)*ClockPeriod), nanos: n})
		}
	}
	add(0, 9000, 9000)        // warm-up: slow, outside the span
	add(1, 1000, 5000, 1100)  // a preempted tick in a 1000 ns bucket
	add(2, 1200, 1200)        // a slower moment
	add(3, 40000, 1000, 1000) // preempted first tick
	add(4, 50000, 60000)      // contended throughout: no clean tick
	r := read(ticks, 4*ClockBucket-time.Millisecond)
	if r.Buckets != 3 || r.Dropped != 1 {
		t.Fatalf("buckets = %d kept, %d dropped; want 3 kept (the warm-up bucket is outside the span) and the contended one dropped: %+v", r.Buckets, r.Dropped, r)
	}
	if want := (1000.0 + 1200 + 1000) / 3; r.TickNanos != want {
		t.Errorf("tick = %v, want %v: the mean of each bucket's fastest tick", r.TickNanos, want)
	}
	if r.Spread < 0.199 || r.Spread > 0.201 {
		t.Errorf("spread = %v, want 0.2 (1200 over 1000)", r.Spread)
	}
	if all := read(ticks, 0); all.Buckets+all.Dropped != 5 {
		t.Errorf("span 0: buckets = %d + %d dropped, want all 5", all.Buckets, all.Dropped)
	}
	if empty := read(nil, time.Second); empty.Buckets != 0 || empty.TickNanos != 0 {
		t.Errorf("no ticks: %+v, want an empty reading", empty)
	}
}

// TestClockTicks runs a real clock on cpu 0 and reads it twice.
func TestClockTicks(t *testing.T) {
	c, err := StartClock(0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := StartClock(0) // clocks of several CPUs tick at once (-race)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop(0)
	time.Sleep(4 * ClockBucket)
	r := c.Stop(0)
	if r.Buckets < 2 || r.TickNanos <= 0 || r.CPU != 0 {
		t.Fatalf("reading %+v: want ticks in at least 2 buckets on cpu 0", r)
	}
	if again := c.Stop(0); again != r {
		t.Errorf("a second Stop read %+v, want the same %+v", again, r)
	}
	if _, err := StartClock(4096); err == nil {
		t.Error("a clock on cpu 4096 started; want an error naming the cpu")
	}
	if b, err := ClockBaseline(0); err != nil || b <= 0 {
		t.Errorf("baseline on cpu 0 = %d, %v; want a positive time", b, err)
	}
}
