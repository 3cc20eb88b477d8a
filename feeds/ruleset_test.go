package feeds

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// A ruleSet gives back every rule as added, names sharing one string.
func TestRuleSetRoundTrip(t *testing.T) {
	want := []blocklist.Rule{
		{Name: "evil.example", Scope: blocklist.Subtree, Payload: blocklist.Payload{List: 2, Category: 1, Action: blocklist.ActionNXDomain}},
		{Name: "", Scope: blocklist.Subtree, Allow: true},
		{Name: "a.b.c.example", Scope: blocklist.Exact, Payload: blocklist.Payload{Action: blocklist.ActionSinkhole, Data: 7}},
		{Name: "x.test", Scope: blocklist.Subtree, Payload: blocklist.Payload{List: 65535, Data: 1<<32 - 1}},
	}
	var b ruleSetBuilder
	for _, r := range want {
		r.Name = strings.Clone(r.Name)
		if !b.add(r) {
			t.Fatalf("add(%q) refused", r.Name)
		}
	}
	if b.len() != len(want) {
		t.Fatalf("builder len %d, want %d", b.len(), len(want))
	}
	s := b.finish()
	if s.len() != len(want) {
		t.Fatalf("len %d, want %d", s.len(), len(want))
	}
	base := unsafe.StringData(s.names)
	off := 0
	for i, w := range want {
		got := s.at(i)
		if got != w {
			t.Errorf("rule %d: %+v, want %+v", i, got, w)
		}
		if len(got.Name) > 0 && unsafe.StringData(got.Name) != (*byte)(unsafe.Add(unsafe.Pointer(base), off)) {
			t.Errorf("rule %d's name is not in the shared string", i)
		}
		off += len(w.Name)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.at(2) }); n != 0 {
		t.Errorf("at allocates %v times", n)
	}
}

// The point of packedRule is that the collector never scans a slice of
// them; a pointer added to it (a string, a slice, an interface) would undo
// that silently.
func TestPackedRuleHasNoPointers(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
			return true
		case reflect.Array:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if !walk(ty.Field(i).Type) {
					t.Errorf("packedRule: %s.%s (%s) holds a pointer", ty.Name(), ty.Field(i).Name, ty.Field(i).Type)
					return false
				}
			}
			return true
		}
		return false
	}
	walk(reflect.TypeFor[packedRule]())
}
