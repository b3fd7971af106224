package app

import "unsafe"

// b2s converts b to a string without copying. The string is valid only while
// b is neither modified nor reused: fasthttp's contract for request data.
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// s2b converts s to a []byte without copying. The result must never be written.
func s2b(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// str converts b to a string, zero-copy when conv is on.
func (h *Handler) str(b []byte) string {
	if h.v.On(Conv) {
		return b2s(b)
	}
	return string(b)
}

// bytes converts s to a []byte, zero-copy when conv is on. The result is only read.
func (h *Handler) bytes(s string) []byte {
	if h.v.On(Conv) {
		return s2b(s)
	}
	return []byte(s)
}
