package report

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// The spread inside a bursty cell's latency, and what the over-time chart
// makes of it (issue 13). Two measurements from the traces:
//
//   - the pacer's wake-ups: a hit is picked up when vegeta's pacer wakes;
//     hits picked up less than half the due spacing apart shared a
//     wake-up. When the pacer wakes less often than hits are due, each
//     hit waits for the next wake-up, and that wait is spread evenly over
//     the wake-up interval.
//   - the chart's points: the over-time chart draws chartPoints points
//     chosen by LTTB, which keeps the point of each bucket that makes the
//     largest triangle with its neighbours, i.e. a bucket's extremes. The
//     share of those points inside the requests' interquartile range says
//     whether the chart shows the distribution or only its edges.

// wakeStats describes how the pacer picked hits up.
type wakeStats struct {
	spacing  float64 // median ns between hits due in the same burst
	interval float64 // median ns between wake-ups
	perWake  float64 // hits per wake-up
	shared   float64 // share of hits picked up with another in one wake-up
}

// wakeups groups the hits' pick-up times (due + pacer lateness) into the
// pacer's wake-ups.
func wakeups(reqs []tracedReq) (wakeStats, bool) {
	var dueGaps []float64
	for i := 1; i < len(reqs); i++ {
		if reqs[i].burst == reqs[i-1].burst {
			dueGaps = append(dueGaps, float64(reqs[i].due-reqs[i-1].due))
		}
	}
	if len(dueGaps) == 0 {
		return wakeStats{}, false
	}
	w := wakeStats{spacing: medianOf(dueGaps)}
	picks := make([]float64, len(reqs))
	for i, r := range reqs {
		picks[i] = float64(r.due + r.t.Late)
	}
	slices.Sort(picks)
	var intervals []float64
	wakes, inShared, run := 1, 0, 1
	last := picks[0] // the wake-up's first pick-up
	for i := 1; i < len(picks); i++ {
		if picks[i]-picks[i-1] < w.spacing/2 {
			run++
			continue
		}
		if run > 1 {
			inShared += run
		}
		if d := picks[i] - last; d < 10*w.spacing { // not across a silence
			intervals = append(intervals, d)
		}
		wakes, run, last = wakes+1, 1, picks[i]
	}
	if run > 1 {
		inShared += run
	}
	if len(intervals) == 0 {
		return wakeStats{}, false
	}
	w.interval = medianOf(intervals)
	w.perWake = float64(len(picks)) / float64(wakes)
	w.shared = float64(inShared) / float64(len(picks))
	return w, true
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// chartMiddle is the share of the over-time chart's points (ys, latency
// in ms) inside the requests' latency p25–p75.
func chartMiddle(reqs []tracedReq, ys []float64) float64 {
	lo, hi := reqQuantile(reqs, 0.25, latOf)/1e6, reqQuantile(reqs, 0.75, latOf)/1e6
	in := 0
	for _, y := range ys {
		if y >= lo && y <= hi {
			in++
		}
	}
	return float64(in) / float64(max(1, len(ys)))
}

// saysSpread says where a unimodal bursty cell's spread comes from: the
// pacer's lateness against the write→response part, the pacer's
// wake-ups against the hits' spacing, and, when the over-time chart
// draws the middle of the distribution less than half as often as it
// holds requests, that the chart's lines are the spread's edges.
func (b *builder) saysSpread(model, gap string, c *Cell, reqs []tracedReq, chartYs []float64) {
	late := func(r tracedReq) float64 { return float64(r.t.Late) }
	server := func(r tracedReq) float64 { return float64(r.t.Server) }
	p50 := reqQuantile(reqs, 0.5, latOf)
	msg := fmt.Sprintf("Bursty spread, %s at silence %s: latency p10 %s, p50 %s, p90 %s; of it the pacer's lateness p10 %s, p50 %s, p90 %s (%s of the median latency), write→response (loopback and the server) p50 %s, p90 %s.",
		model, gap, fmtNs(reqQuantile(reqs, 0.1, latOf)), fmtNs(p50), fmtNs(reqQuantile(reqs, 0.9, latOf)),
		fmtNs(reqQuantile(reqs, 0.1, late)), fmtNs(reqQuantile(reqs, 0.5, late)), fmtNs(reqQuantile(reqs, 0.9, late)), fmtShare(reqQuantile(reqs, 0.5, late)/p50),
		fmtNs(reqQuantile(reqs, 0.5, server)), fmtNs(reqQuantile(reqs, 0.9, server)))
	bursts, newConns, firstNew := 0, 0, 0
	for _, r := range reqs {
		bursts = max(bursts, r.burst+1)
		if r.t.OnConn == 0 {
			newConns++
			if r.pos == 0 {
				firstNew++
			}
		}
	}
	msg += fmt.Sprintf(" Requests on new connections: %.1f per burst; the first request of %d of %d bursts went on a new one.",
		float64(newConns)/float64(bursts), firstNew, bursts)
	if w, ok := wakeups(reqs); ok {
		msg += fmt.Sprintf(" Hits are due every %s; the pacer woke a median %s apart and picked up %.1f hits per wake-up (%.0f%% of hits shared a wake-up).",
			fmtNs(w.spacing), fmtNs(w.interval), w.perWake, 100*w.shared)
	}
	var slept []tracedReq
	for _, r := range reqs {
		if r.t.Sleep > 0 {
			slept = append(slept, r)
		}
	}
	if len(slept) > 0 {
		sleep := func(r tracedReq) float64 { return float64(r.t.Sleep) }
		over := reqQuantile(slept, 0.9, late)
		msg += fmt.Sprintf(" The pacer slept before %.0f%% of the hits (asked p50 %s); those sleeps ended late by p10 %s, p50 %s, p90 %s.",
			100*float64(len(slept))/float64(len(reqs)), fmtNs(reqQuantile(slept, 0.5, sleep)),
			fmtNs(reqQuantile(slept, 0.1, late)), fmtNs(reqQuantile(slept, 0.5, late)), fmtNs(over))
		if over >= float64(time.Millisecond/2) {
			msg += " A Go timer here wakes up to about 1 ms late: the runtime's netpoller sleeps in epoll_pwait, whose timeout is in whole milliseconds, so the hits' lateness spreads evenly over 0–1 ms."
		}
	}
	if len(chartYs) > 0 {
		if mid := chartMiddle(reqs, chartYs); mid < 0.25 {
			msg += fmt.Sprintf(" The over-time chart's %d points (LTTB keeps each bucket's extremes) put %.0f%% of its points between the latency's p25 and p75, where 50%% of the requests are: its two lines are the edges of this spread, not two bands.",
				len(chartYs), 100*mid)
		}
	}
	b.say("%s%s", msg, serverClause(c))
}

// histogram is the share of reqs (percent) in n equal bins from 0 to top
// ns, the last bin holding everything above; x is each bin's middle in ms.
func histogram(name string, lats []float64, top float64, n int) Series {
	s := Series{Name: name}
	counts := make([]float64, n)
	for _, l := range lats {
		counts[min(n-1, int(l/top*float64(n)))]++
	}
	for i, c := range counts {
		s.X = append(s.X, (float64(i)+0.5)*top/float64(n)/1e6)
		s.Y = append(s.Y, 100*c/math.Max(1, float64(len(lats))))
	}
	return s
}
