package clients

import (
	"net/http"

	"github.com/poolbench/poolbench/workloads"
)

func newNetHTTPTuned(dial workloads.Dialer, conns int) workloads.HTTPClient {
	tr := transport(dial)
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	return &netClient{c: &http.Client{Transport: tr}, tr: tr}
}
