package merge

import "github.com/poolbench/poolbench/workloads"

// SumErrors adds e's error counts, kind by kind, to dst: how several load
// hosts' errors combine.
func SumErrors(dst *workloads.Errors, e workloads.Errors) {
	dst.Dial += e.Dial
	dst.Transport += e.Transport
	dst.Status += e.Status
	dst.BodyLen += e.BodyLen
	dst.Framing += e.Framing
}
