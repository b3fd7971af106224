package results

// CostUnits are the per-request cost units of a process line (issue 13):
// where the server's and the load's time goes, and the kernel's TCP
// counters over the window. Every one is better lower. WriteUnits declares
// them after Units.
var CostUnits = []Unit{
	// The server process, per request.
	{"user-ns/op", false},
	{"sys-ns/op", false},
	{"vcsw/op", false},
	{"ivcsw/op", false},
	{"syscr/op", false},
	{"syscw/op", false},
	{"in-B/op", false},
	{"out-B/op", false},
	{"gc-cpu-ns/op", false},
	{"goroutines/op", false},
	{"sched-p99-ns", false},
	// The load process (driver or wrk), per request.
	{"load-user-ns/op", false},
	{"load-sys-ns/op", false},
	{"load-vcsw/op", false},
	{"load-ivcsw/op", false},
	{"load-syscr/op", false},
	{"load-syscw/op", false},
	{"load-sched-p99-ns", false},
	// The kernel's TCP counters over the window, totals for the cell.
	{"listen-overflows", false},
	{"listen-drops", false},
	{"syn-retrans", false},
	{"retrans-segs", false},
	{"out-rsts", false},
}
