package yamlx

import "reflect"

// Defaults sets each exported field of *dst that is unset (the zero value:
// 0, "", nil, false) to the same field of def. A section's defaults are
// then one literal beside its keys, and a key the operator wrote is never
// overwritten. A field of struct type with exported fields is filled field
// by field, so def names only the nested keys that have a default; a field
// def leaves zero stays as it is. Config-time only: it uses reflection.
func Defaults[T any](dst *T, def T) {
	fill(reflect.ValueOf(dst).Elem(), reflect.ValueOf(def))
}

func fill(dst, def reflect.Value) {
	t := dst.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		d, v := dst.Field(i), def.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct && hasExported(f.Type):
			fill(d, v)
		case unset(d) && !unset(v):
			d.Set(v)
		}
	}
}

// unset is the `x == 0` of the hand-written defaults it replaces: a float
// written as -0 is unset too (reflect's IsZero says it is not).
func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return v.IsZero()
}

func hasExported(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}
