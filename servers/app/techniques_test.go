package app

import (
	"sync"
	"testing"
)

// Sinks keep the compiler from optimising the measured work away.
var (
	sinkString string
	sinkBytes  []byte
	sinkEx     *Exchange
	sinkIDs    []string
)

// BenchmarkTechnique times each of the three techniques alone, on the same
// data the app route handles, with switch=on and switch=off side by side:
//
//	go tool benchstat -col /switch results/<run>/bench.txt
func BenchmarkTechnique(b *testing.B) {
	value := []byte("17,42,133,256,404,999")
	query := "ids=17,42,133,256,404,999&fields=id,name,email,city"
	b.Run("technique=pool/op=exchange/switch=on", func(b *testing.B) {
		b.ReportAllocs()
		var p sync.Pool
		p.New = func() any { return newExchange() }
		for b.Loop() {
			ex := p.Get().(*Exchange)
			ex.Body = append(ex.Body[:0], value...)
			sinkEx = ex
			p.Put(ex)
		}
	})
	b.Run("technique=pool/op=exchange/switch=off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ex := newExchange()
			ex.Body = append(ex.Body[:0], value...)
			sinkEx = ex
		}
	})
	b.Run("technique=conv/op=b2s/switch=on", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString = b2s(value)
		}
	})
	b.Run("technique=conv/op=b2s/switch=off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString = string(value)
		}
	})
	b.Run("technique=conv/op=s2b/switch=on", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes = s2b(query)
		}
	})
	b.Run("technique=conv/op=s2b/switch=off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes = []byte(query)
		}
	})
	s := b2s(value)
	b.Run("technique=reuse/op=split/switch=on", func(b *testing.B) {
		b.ReportAllocs()
		var ids []string
		for b.Loop() {
			ids = splitString(ids[:0], s, ',')
		}
		sinkIDs = ids
	})
	b.Run("technique=reuse/op=split/switch=off", func(b *testing.B) {
		b.ReportAllocs()
		var ids []string
		for b.Loop() {
			ids = splitString(nil, s, ',')
		}
		sinkIDs = ids
	})
}
