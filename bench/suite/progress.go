package suite

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows how far a step is: a bar with an ETA on a terminal, and
// otherwise (CI, `make bench > log`) one line per finished cell with the
// elapsed time and the ETA.
type Progress struct {
	w     io.Writer
	tty   bool
	step  string
	total int // 0: unknown, no ETA
	done  int
	start time.Time
	now   func() time.Time
	bar   *progressbar.ProgressBar
}

// NewProgress starts counting total cells of step (0 if unknown).
func NewProgress(w io.Writer, tty bool, step string, total int) *Progress {
	p := &Progress{w: w, tty: tty, step: step, total: total, start: time.Now(), now: time.Now}
	if tty {
		max := total
		if max == 0 {
			max = -1 // a spinner
		}
		p.bar = progressbar.NewOptions(max, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(step),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(20))
	}
	return p
}

// Done records one finished cell.
func (p *Progress) Done(cell string) {
	p.done++
	if p.bar != nil {
		p.bar.Describe(p.step + " " + tail(cell, 60))
		p.bar.Add(1) //nolint:errcheck // a progress bar's write error is not the run's
		return
	}
	fmt.Fprintln(p.w, p.line(cell))
}

// line is the log line for the latest finished cell.
func (p *Progress) line(cell string) string {
	el := p.now().Sub(p.start)
	if p.total <= 0 {
		return fmt.Sprintf("[%s %d, %s] %s", p.step, p.done, round(el), cell)
	}
	eta := time.Duration(0)
	if p.done < p.total {
		eta = el * time.Duration(p.total-p.done) / time.Duration(p.done)
	}
	return fmt.Sprintf("[%s %d/%d, %s elapsed, eta %s] %s", p.step, p.done, p.total, round(el), round(eta), cell)
}

// Finish clears the bar.
func (p *Progress) Finish() {
	if p.bar != nil {
		p.bar.Finish() //nolint:errcheck
		p.bar.Clear()  //nolint:errcheck
	}
}

// Printf prints a line above the bar.
func (p *Progress) Printf(format string, args ...any) {
	if p.bar != nil {
		p.bar.Clear() //nolint:errcheck
	}
	fmt.Fprintf(p.w, format, args...)
}

// tail keeps the last n runes of s, so a bar's line fits a terminal.
func tail(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }
