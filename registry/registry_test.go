package registry

import (
	"slices"
	"strings"
	"testing"
)

type row struct{ name string }

func newTest() *Registry[row] {
	return New("colour", func(r row) string { return r.name }, row{"red"}, row{"green"}, row{"blue"})
}

func TestParse(t *testing.T) {
	t.Parallel()
	r := newTest()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "", want: "red,green,blue"},
		{in: "all", want: "red,green,blue"},
		{in: "blue, red", want: "blue,red"},
		{in: "red,pink", wantErr: `unknown colour "pink": want one of red, green, blue`},
		{in: "red,,blue", wantErr: `unknown colour "": want one of red, green, blue`},
	}
	for _, tt := range tests {
		got, err := r.Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		var names []string
		for _, x := range got {
			names = append(names, x.name)
		}
		if err != nil || strings.Join(names, ",") != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tt.in, names, err, tt.want)
		}
	}
	if _, err := r.Lookup("pink"); err == nil || err.Error() != r.Unknown("pink").Error() {
		t.Errorf("Lookup error %v, want the same line as Parse's", err)
	}
}

func TestAddKeepsOrderAndRefusesBadNames(t *testing.T) {
	t.Parallel()
	r := newTest()
	r.Add(row{"cyan"})
	if got := r.Names(); !slices.Equal(got, []string{"red", "green", "blue", "cyan"}) || r.Len() != 4 {
		t.Errorf("Names() = %v after Add, want the new row last", got)
	}
	for _, bad := range []string{"red", "Red", "a/b", "", "all", "x-1 y"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", bad)
				}
			}()
			r.Add(row{bad})
		}()
	}
}
