package app

import (
	"fmt"
	"strings"
)

// Variant selects which of fasthttp's three allocation techniques the
// application handler uses. Every combination serves byte-identical responses;
// only the allocations per request differ.
type Variant struct {
	// Pool takes the per-request state from a sync.Pool instead of
	// allocating it for every request.
	Pool bool
	// Conv converts between []byte and string without copying
	// (unsafe.String / unsafe.Slice) instead of string(b) / []byte(s).
	Conv bool
	// Reuse truncates the pooled state's slices with s[:0] instead of
	// dropping them and growing new ones.
	Reuse bool
}

// AllOn is the variant with every technique switched on (fasthttp's advice).
var AllOn = Variant{Pool: true, Conv: true, Reuse: true}

// AllOff is the variant with every technique switched off.
var AllOff = Variant{}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// String renders the variant as cell path segments: "pool=on/conv=off/reuse=on".
func (v Variant) String() string {
	return "pool=" + onOff(v.Pool) + "/conv=" + onOff(v.Conv) + "/reuse=" + onOff(v.Reuse)
}

// Variants returns all eight combinations, all-on first and all-off last.
func Variants() []Variant {
	out := make([]Variant, 0, 8)
	for i := 7; i >= 0; i-- {
		out = append(out, Variant{Pool: i&4 != 0, Conv: i&2 != 0, Reuse: i&1 != 0})
	}
	return out
}

// OneOff returns the variants that answer "what does each switch buy":
// all on, each switch off alone, and all off.
func OneOff() []Variant {
	return []Variant{
		AllOn,
		{Pool: false, Conv: true, Reuse: true},
		{Pool: true, Conv: false, Reuse: true},
		{Pool: true, Conv: true, Reuse: false},
		AllOff,
	}
}

// ParseVariant parses "all-on", "all-off" or switches such as
// "pool=on/conv=off/reuse=on" (',' also separates). Switches not named are on.
func ParseVariant(s string) (Variant, error) {
	switch s {
	case "all-on", "on":
		return AllOn, nil
	case "all-off", "off":
		return AllOff, nil
	}
	v := AllOn
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ',' })
	if len(fields) == 0 {
		return v, fmt.Errorf("empty variant %q: want all-on, all-off or e.g. pool=on/conv=off/reuse=on", s)
	}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return v, fmt.Errorf("variant %q: %q is not key=value: want e.g. pool=on/conv=off/reuse=on", s, f)
		}
		var b bool
		switch val {
		case "on":
			b = true
		case "off":
		default:
			return v, fmt.Errorf("variant %q: %s=%q: a switch is on or off", s, k, val)
		}
		switch k {
		case "pool":
			v.Pool = b
		case "conv":
			v.Conv = b
		case "reuse":
			v.Reuse = b
		default:
			return v, fmt.Errorf("variant %q: unknown switch %q: want pool, conv or reuse", s, k)
		}
	}
	return v, nil
}

// ParseVariants parses a variant list: "default" (each switch off alone, plus
// all on and all off), "all" (all eight), or variants separated by spaces or ';'.
func ParseVariants(s string) ([]Variant, error) {
	switch strings.TrimSpace(s) {
	case "default", "":
		return OneOff(), nil
	case "all":
		return Variants(), nil
	}
	var out []Variant
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' }) {
		v, err := ParseVariant(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
