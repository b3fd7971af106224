package clients

import (
	"net"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
)

func newFastHTTPHost(dial workloads.Dialer, conns int) workloads.HTTPClient {
	c := &fasthttp.HostClient{
		Addr:     "poolbench",
		Dial:     func(string) (net.Conn, error) { return dial() },
		MaxConns: conns,
	}
	return &fastClient{do: c.Do, closeIdle: c.CloseIdleConnections}
}
