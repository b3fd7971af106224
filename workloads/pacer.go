package workloads

import (
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// SquareWave is a vegeta Pacer that sends PerSecond requests per second for On,
// then nothing for Off, and repeats. Hit k is due at Due(k); a burst holds
// exactly PerBurst hits.
type SquareWave struct {
	// PerSecond is the request rate during a burst.
	PerSecond int
	// On is how long each burst lasts.
	On time.Duration
	// Off is the silence between bursts.
	Off time.Duration
}

var _ vegeta.Pacer = SquareWave{}

// PerBurst is the number of hits in one burst.
func (sw SquareWave) PerBurst() uint64 {
	return uint64(math.Round(float64(sw.PerSecond) * sw.On.Seconds()))
}

// Due returns when hit k (from 0) is due, measured from the attack's start.
func (sw SquareWave) Due(k uint64) time.Duration {
	per := sw.PerBurst()
	if per == 0 {
		return 0
	}
	burst, i := k/per, k%per
	return time.Duration(burst)*(sw.On+sw.Off) + time.Duration(float64(i)*float64(time.Second)/float64(sw.PerSecond))
}

// Pace implements vegeta.Pacer: wait until the next hit is due.
func (sw SquareWave) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if sw.PerSecond <= 0 || sw.On <= 0 || sw.PerBurst() == 0 {
		return 0, true
	}
	if due := sw.Due(hits); due > elapsed {
		return due - elapsed, false
	}
	return 0, false
}

// Rate implements vegeta.Pacer: PerSecond during a burst, 0 between bursts.
func (sw SquareWave) Rate(elapsed time.Duration) float64 {
	period := sw.On + sw.Off
	if period <= 0 || elapsed%period >= sw.On {
		return 0
	}
	return float64(sw.PerSecond)
}
