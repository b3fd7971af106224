//go:build fasthttp_old

package scenarios

// recentFasthttp is empty in a build against an older fasthttp release.
var recentFasthttp []Scenario
