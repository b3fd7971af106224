// Package merge combines the load results of one cell measured from several
// load hosts, by the tools' own merge paths and never by averaging
// percentiles: closed-loop results by summing counts and merging their HDR
// histograms (hdrhistogram-go's Merge), open-loop results by decoding every
// host's vegeta results file into one vegeta.Metrics (what `vegeta report
// a.bin b.bin` does).
package merge

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/poolbench/poolbench/workloads"
)

// Closed is one load host's closed-loop result of one cell run. Its JSON
// is a subset of what `poolbench load -json` prints (extra fields are
// ignored), plus the latency histogram that merging needs.
type Closed struct {
	Workload  string           `json:"workload"`
	Conns     int              `json:"conns"`
	OK        int64            `json:"ok"`
	Errors    workloads.Errors `json:"errors"`
	Dials     int64            `json:"dials"`
	ElapsedNs int64            `json:"elapsed_ns"`
	// Latency is the host's latency histogram (hdrhistogram's Export);
	// without it on every host the merged result has no percentiles.
	Latency *hdrhistogram.Snapshot `json:"latency,omitempty"`
}

// Merged is one cell run's result over all its load hosts.
type Merged struct {
	Hosts  int
	Conns  int
	OK     int64
	Errors workloads.Errors
	Dials  int64
	// Rate is the sum of every host's OK per second of its own window
	// (the hosts start together, so the windows overlap).
	Rate float64
	// Latency is the merged histogram; nil if a host sent none.
	Latency *hdrhistogram.Histogram
}

// ClosedResults merges closed-loop results: counts are summed, histograms
// merged. It fails on an empty list, mixed workloads, or a histogram whose
// values do not fit the first one's range.
func ClosedResults(rs []Closed) (Merged, error) {
	if len(rs) == 0 {
		return Merged{}, errors.New("merge: no results")
	}
	m := Merged{Hosts: len(rs)}
	withHist := 0
	for i, r := range rs {
		if r.Workload != rs[0].Workload {
			return Merged{}, fmt.Errorf("merge: host %d ran %q, host 1 ran %q: merge one cell at a time", i+1, r.Workload, rs[0].Workload)
		}
		m.Conns += r.Conns
		m.OK += r.OK
		m.Dials += r.Dials
		SumErrors(&m.Errors, r.Errors)
		if r.ElapsedNs > 0 {
			m.Rate += float64(r.OK) / time.Duration(r.ElapsedNs).Seconds()
		}
		if r.Latency == nil {
			continue
		}
		if err := r.Latency.Validate(); err != nil {
			return Merged{}, fmt.Errorf("merge: host %d's histogram: %w", i+1, err)
		}
		h := hdrhistogram.Import(r.Latency)
		withHist++
		if m.Latency == nil {
			m.Latency = h
			continue
		}
		if dropped := m.Latency.Merge(h); dropped != 0 {
			return Merged{}, fmt.Errorf("merge: host %d's histogram: %d values outside the first host's range", i+1, dropped)
		}
	}
	if withHist != len(rs) {
		m.Latency = nil
	}
	return m, nil
}

// Open is the merge of open-loop results: vegeta's own metrics over every
// host's results.
type Open struct {
	Hosts   int
	Metrics vegeta.Metrics
}

// OpenFiles decodes vegeta results files (any of vegeta's encodings,
// detected as `vegeta report` does) round-robin into one vegeta.Metrics.
func OpenFiles(paths []string) (Open, error) {
	if len(paths) == 0 {
		return Open{}, errors.New("merge: no vegeta results files")
	}
	var decs []vegeta.Decoder
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return Open{}, fmt.Errorf("merge: %w", err)
		}
		defer f.Close()
		dec := vegeta.DecoderFor(f)
		if dec == nil {
			return Open{}, fmt.Errorf("merge: %s: not a vegeta results file (gob, csv or json)", p)
		}
		decs = append(decs, dec)
	}
	dec := vegeta.NewRoundRobinDecoder(decs...)
	o := Open{Hosts: len(paths)}
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return Open{}, fmt.Errorf("merge: decoding vegeta results: %w", err)
		}
		o.Metrics.Add(&r)
	}
	o.Metrics.Close()
	return o, nil
}
