package suffixset

import "testing"

func TestCovers(t *testing.T) {
	set := map[string]struct{}{"evil.example": {}, "a.b.test": {}}
	tests := []struct {
		name string
		want bool
	}{
		{"evil.example", true},
		{"x.evil.example", true},
		{"y.x.evil.example", true},
		{"notevil.example", false},
		{"example", false},
		{"b.test", false},
		{"a.b.test", true},
		{"c.a.b.test", true},
		{"EVIL.example", false},  // no case folding: the caller lowers
		{"evil.example.", false}, // no trailing-dot handling either
		{"", false},
	}
	for _, tt := range tests {
		if got := Covers(set, tt.name); got != tt.want {
			t.Errorf("Covers(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
