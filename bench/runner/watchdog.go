package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bounds on a cell: no cell runs unwatched, and no sample from a disturbed
// window is kept.
const (
	// cellGrace is what a cell may take beyond its warm-up and window:
	// starting the server, dialing, the report, stopping.
	cellGrace = 30 * time.Second
	// RateFloor is the fraction of its own warm-up's request rate a
	// closed-loop window must reach; below it the window was disturbed
	// (a stalled server, a stolen CPU) and the cell fails.
	RateFloor = 0.2
)

// CellError is a cell that failed, with its cause.
type CellError struct {
	Cell string
	Err  error
}

func (e *CellError) Error() string { return "cell " + e.Cell + ": " + e.Err.Error() }
func (e *CellError) Unwrap() error { return e.Err }

// FailedCellsError ends a run in which cells failed even when re-run: the
// finished cells are kept in bench.txt, the failed ones have no line.
type FailedCellsError struct{ Cells []*CellError }

func (e *FailedCellsError) Error() string {
	parts := make([]string, len(e.Cells))
	for i, c := range e.Cells {
		parts[i] = c.Error()
	}
	return fmt.Sprintf("%d cell run(s) failed twice and have no result line: %s", len(e.Cells), strings.Join(parts, "; "))
}

// errWatchdog is the cause when a cell outlives its bound.
var errWatchdog = errors.New("watchdog")

// cellBound is the longest a cell may take.
func (r *Runner) cellBound(c Cell) time.Duration {
	if r.CellTimeout > 0 {
		return r.CellTimeout
	}
	w := c.Load.Window(r.Settings.Duration)
	return r.Settings.Warmup + w + w/2 + cellGrace
}

// runCellBounded runs a cell under its watchdog and checks its window's
// rate against its warm-up; a failure is retried once. Result lines go to
// f only for a cell that passed; failures are returned as *CellError.
func (r *Runner) runCellBounded(ctx context.Context, c Cell) (*CellResult, error) {
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		var res *CellResult
		res, err = r.runCellOnce(ctx, c)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if r.results != nil {
			r.results.Abort() // drop the failed attempt's staged side files
		}
		if attempt == 1 && r.Warn != nil {
			fmt.Fprintf(r.Warn, "poolbench: cell %s failed (%v): running it again\n", c.Name(), err)
		}
		if r.OnRetry != nil && attempt == 1 {
			r.OnRetry(c, err)
		}
	}
	return nil, &CellError{Cell: c.Name(), Err: err}
}

func (r *Runner) runCellOnce(ctx context.Context, c Cell) (*CellResult, error) {
	bound := r.cellBound(c)
	cctx, cancel := context.WithTimeoutCause(ctx, bound, errWatchdog)
	defer cancel()
	res, err := r.RunCell(cctx, c)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(cctx), errWatchdog) {
			return nil, fmt.Errorf("watchdog: the cell did not finish within %v (warm-up + window + grace): the server or load stalled", bound)
		}
		return nil, err
	}
	if err := checkRate(res.Report); err != nil {
		return nil, err
	}
	return res, nil
}

// checkRate fails a closed-loop window whose request rate fell below
// RateFloor of its own warm-up's.
func checkRate(rep *LoadReport) error {
	if rep.WarmupNs <= 0 || rep.WarmupOK <= 0 || rep.ElapsedNs <= 0 {
		return nil
	}
	warm := float64(rep.WarmupOK) / time.Duration(rep.WarmupNs).Seconds()
	got := float64(rep.OK) / time.Duration(rep.ElapsedNs).Seconds()
	if got < RateFloor*warm {
		return fmt.Errorf("the window served %.0f req/s, below %.0f%% of its warm-up's %.0f req/s: the server stalled or lost its CPU", got, RateFloor*100, warm)
	}
	return nil
}
