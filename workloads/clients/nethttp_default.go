package clients

import (
	"context"
	"io"
	"net"
	"net/http"

	"github.com/poolbench/poolbench/workloads"
)

// netClient is a net/http Client behind workloads.HTTPClient.
type netClient struct {
	c  *http.Client
	tr *http.Transport
}

var _ workloads.HTTPClient = (*netClient)(nil)

// transport clones DefaultTransport's settings, dialing through dial.
func transport(dial workloads.Dialer) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(context.Context, string, string) (net.Conn, error) { return dial() }
	return tr
}

func newNetHTTPDefault(dial workloads.Dialer, conns int) workloads.HTTPClient {
	tr := transport(dial)
	return &netClient{c: &http.Client{Transport: tr}, tr: tr}
}

// Get implements workloads.HTTPClient: the body is drained and closed, so
// the connection can be reused.
func (n *netClient) Get(url string) (int, int, error) {
	resp, err := n.c.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	written, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(written), err
}

// CloseIdle implements workloads.HTTPClient.
func (n *netClient) CloseIdle() { n.tr.CloseIdleConnections() }
