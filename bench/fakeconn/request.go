package fakeconn

// NewGET encodes a GET of target carrying the same headers as the request of
// fasthttp's server_timing_test.go (Host, User-Agent, Referer, Cookie), so
// both harnesses make the servers parse the same amount of header. With
// close it asks the server to close the connection after the response;
// without, the connection's EOF after its last request ends it, as a client
// that closes does (the transport=fakeconn cells send no close).
func NewGET(target string, close bool) []byte {
	raw := "GET " + target + " HTTP/1.1\r\nHost: poolbench\r\n" +
		"User-Agent: aaa/bbb/ccc/ddd/eee Firefox Chrome MSIE Opera\r\n" +
		"Referer: http://example.com/aaa?bbb=ccc\r\n" +
		"Cookie: foo=bar; baz=baraz; aa=aakslsdweriwereowriewroire\r\n"
	if close {
		raw += "Connection: close\r\n"
	}
	return []byte(raw + "\r\n")
}
