package scenarios

import (
	"context"
	"fmt"
	"io"
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

// netHTTPGetter GETs through a Transport and drains the body, so the
// connection can be reused.
type netHTTPGetter struct{ tr *http.Transport }

func (g netHTTPGetter) get(url string) error {
	resp, err := (&http.Client{Transport: g.tr}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
