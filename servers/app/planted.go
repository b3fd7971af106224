package app

import "time"

// PlantedSpin, when positive, makes Serve spin for that long on every app
// request: a slowdown of known cost that `poolbench calibrate` plants in
// the head side of a gate run to measure what the gate detects. It is 0
// (off) unless a benchmark binary's -poolbench.planted-spin sets it, and
// must be set before any request is served.
var PlantedSpin time.Duration

// plantedSpin burns PlantedSpin of wall time on this goroutine's CPU.
func plantedSpin() {
	if PlantedSpin <= 0 {
		return
	}
	for start := time.Now(); time.Since(start) < PlantedSpin; {
	}
}
