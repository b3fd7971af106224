package clients

import (
	"net"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
)

// fastClient is fasthttp.Client (or a HostClient) behind workloads.HTTPClient.
type fastClient struct {
	do        func(req *fasthttp.Request, resp *fasthttp.Response) error
	closeIdle func()
}

var _ workloads.HTTPClient = (*fastClient)(nil)

func newFastHTTP(dial workloads.Dialer, conns int) workloads.HTTPClient {
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return dial() }}
	return &fastClient{do: c.Do, closeIdle: c.CloseIdleConnections}
}

// Get implements workloads.HTTPClient.
func (f *fastClient) Get(url string) (int, int, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	if err := f.do(req, resp); err != nil {
		return 0, 0, err
	}
	return resp.StatusCode(), len(resp.Body()), nil
}

// CloseIdle implements workloads.HTTPClient.
func (f *fastClient) CloseIdle() { f.closeIdle() }
