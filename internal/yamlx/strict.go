// Package yamlx holds the YAML helpers several config sections need:
// decoding a mapping strictly from inside a custom UnmarshalYAML, where the
// root decoder's KnownFields setting no longer applies, and filling the
// keys an operator left out with the section's defaults (defaults.go).
package yamlx

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes the mapping n into out (a pointer to a struct),
// first rejecting any key that is not one of the struct's yaml tags, with
// the line number, as the root decoder would; typeName is the type the
// message names (the caller's, not the method-less copy it decodes into).
// Sections that decode on top of their defaults (so that a key written as
// zero stays zero) use it.
func DecodeStrict(n *yaml.Node, out any, typeName string) error {
	if n.Kind == yaml.MappingNode {
		t := reflect.TypeOf(out).Elem()
		known := map[string]bool{}
		for i := 0; i < t.NumField(); i++ {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
				known[name] = true
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !known[k.Value] {
				return fmt.Errorf("line %d: field %s not found in type %s", k.Line, k.Value, typeName)
			}
		}
	}
	return n.Decode(out)
}
