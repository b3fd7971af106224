package scenarios

import (
	"context"
	"net"
	"net/http"

	"github.com/poolbench/poolbench/workloads"
)

// transport is a net/http Transport with DefaultTransport's settings that
// dials through dial.
func transport(dial workloads.Dialer) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(context.Context, string, string) (net.Conn, error) { return dial() }
	return tr
}
