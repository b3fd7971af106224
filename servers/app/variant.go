package app

import (
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/registry"
)

// Switch is one row of the switch table: a technique the handler turns on
// or off per Variant. Every cell carries each switch as a key=value segment
// ("pool=on"), in table order.
type Switch struct {
	// Key is the switch's cell key, e.g. "pool".
	Key string
	// Doc says in one line what "on" does.
	Doc string
	// Label names the technique in reports, e.g. "sync.Pool".
	Label string
	// Hook, if set, runs for every app-route request with the switch's
	// state: the code the switch toggles, for switches whose code lives
	// outside the handler. The built-in switches test Variant.On inline.
	Hook func(on bool, ex *Exchange)
}

// The built-in switches' positions in Switches; the handler's code tests
// them with Variant.On.
const (
	Pool = iota
	Conv
	Reuse
)

// Switches is the switch table, in cell-key order. A row appended here (one
// file with its Hook) is a new switch in every cell name, variant list,
// report label and profile pair.
var Switches = registry.New("switch", func(s Switch) string { return s.Key },
	Switch{Key: "pool", Label: "sync.Pool", Doc: "per-request state from a sync.Pool instead of a fresh allocation"},
	Switch{Key: "conv", Label: "zero-copy []byte↔string", Doc: "unsafe.String / unsafe.Slice instead of string(b) / []byte(s) copies"},
	Switch{Key: "reuse", Label: "s[:0] reuse", Doc: "pooled slices truncated with s[:0] instead of dropped and regrown"},
)

// SwitchKeys returns the switches' cell keys in table order.
func SwitchKeys() []string { return Switches.Names() }

// Variant selects which switches are on. Every combination serves
// byte-identical responses; only the allocations per request differ. The
// zero Variant has every switch on.
type Variant struct {
	off uint64 // bit i set: switch i is off
}

// AllOn is the variant with every switch on (fasthttp's advice).
var AllOn = Variant{}

// AllOff returns the variant with every switch off.
func AllOff() Variant { return Variant{off: 1<<Switches.Len() - 1} }

// On reports whether switch i (its position in Switches) is on.
func (v Variant) On(i int) bool { return v.off&(1<<i) == 0 }

// With returns v with switch i set to on.
func (v Variant) With(i int, on bool) Variant {
	if on {
		v.off &^= 1 << i
	} else {
		v.off |= 1 << i
	}
	return v
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// String renders the variant as cell path segments: "pool=on/conv=off/reuse=on".
func (v Variant) String() string {
	parts := make([]string, Switches.Len())
	for i, k := range SwitchKeys() {
		parts[i] = k + "=" + onOff(v.On(i))
	}
	return strings.Join(parts, "/")
}

// NA is the segments of a cell the switches do not apply to: "pool=na/…".
func NA() string {
	keys := SwitchKeys()
	for i, k := range keys {
		keys[i] = k + "=na"
	}
	return strings.Join(keys, "/")
}

// Variants returns every combination, all-on first and all-off last; the
// first switch changes slowest.
func Variants() []Variant {
	n := Switches.Len()
	out := make([]Variant, 0, 1<<n)
	for k := range uint64(1 << n) {
		var v Variant
		for i := range n {
			v = v.With(i, k&(1<<(n-1-i)) == 0)
		}
		out = append(out, v)
	}
	return out
}

// OneOff returns the variants that answer "what does each switch buy":
// all on, each switch off alone, and all off.
func OneOff() []Variant {
	out := []Variant{AllOn}
	for i := range Switches.Len() {
		out = append(out, AllOn.With(i, false))
	}
	return append(out, AllOff())
}

// ParseVariant parses "all-on", "all-off" or switches such as
// "pool=on/conv=off/reuse=on" (',' also separates). Switches not named are on.
func ParseVariant(s string) (Variant, error) {
	switch s {
	case "all-on", "on":
		return AllOn, nil
	case "all-off", "off":
		return AllOff(), nil
	}
	v := AllOn
	example := AllOn.With(1%Switches.Len(), false).String()
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ',' })
	if len(fields) == 0 {
		return v, fmt.Errorf("empty variant %q: want all-on, all-off or e.g. %s", s, example)
	}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return v, fmt.Errorf("variant %q: %q is not key=value: want e.g. %s", s, f, example)
		}
		if val != "on" && val != "off" {
			return v, fmt.Errorf("variant %q: %s=%q: a switch is on or off", s, k, val)
		}
		i := Switches.Index(k)
		if i < 0 {
			return v, fmt.Errorf("variant %q: %w", s, Switches.Unknown(k))
		}
		v = v.With(i, val == "on")
	}
	return v, nil
}

// ParseVariants parses a variant list: "default" (each switch off alone, plus
// all on and all off), "all" (every combination), or variants separated by
// spaces or ';'.
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
