package rpctest

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// Field is one value an assertion checks: its name, what the test got and what it wants. Check
// reports each differing field on a line of its own, instead of one dump for a chain of
// conditions.
type Field struct {
	Name      string
	Got, Want any
}

// Want is the Field name with got and want.
func Want(name string, got, want any) Field { return Field{Name: name, Got: got, Want: want} }

// Check reports, under what, each field whose Got differs from its Want (see Equal), one line
// each with both values, and says whether all matched.
func Check(t testing.TB, what string, fields ...Field) bool {
	t.Helper()
	ok := true
	for _, f := range fields {
		if !Equal(f.Got, f.Want) {
			t.Errorf("%s: %s = %s, want %s", what, f.Name, show(f.Got), show(f.Want))
			ok = false
		}
	}
	return ok
}

// Must is Check that ends the test when a field differs.
func Must(t testing.TB, what string, fields ...Field) {
	t.Helper()
	if !Check(t, what, fields...) {
		t.FailNow()
	}
}

// show is v as Go syntax, a pointer by what it points to, a time in RFC 3339.
func show(v any) string {
	if tm, ok := v.(time.Time); ok {
		return tm.Format(time.RFC3339Nano)
	}
	if r := reflect.ValueOf(v); r.Kind() == reflect.Pointer && !r.IsNil() {
		return "&" + show(r.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v)
}

// Equal is reflect.DeepEqual, except that times are equal when they are the same instant, and a
// string or an integer of a named type (an enum) equals the plain value.
func Equal(got, want any) bool {
	if reflect.DeepEqual(got, want) {
		return true
	}
	if g, ok := got.(time.Time); ok {
		w, ok := want.(time.Time)
		return ok && g.Equal(w)
	}
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if !g.IsValid() || !w.IsValid() {
		return false
	}
	switch {
	case g.Kind() == reflect.String && w.Kind() == reflect.String:
		return g.String() == w.String()
	case g.CanInt() && w.CanInt():
		return g.Int() == w.Int()
	}
	return false
}
