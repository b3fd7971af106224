//go:build !fasthttp_old

package scenarios

// recentFasthttp are the scenarios that use StreamResponseBody and
// RetryIfErr (and PendingRequests), which fasthttp releases before ~v1.4x lack.
var recentFasthttp = []Scenario{StreamUnclosed{}, RetryDuplicates{}, FirstByteCauses{}}
