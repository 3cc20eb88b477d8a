package yamlx

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type section struct {
	Size    int    `yaml:"size"`
	Name    string `yaml:"name,omitempty"`
	Ignored string `yaml:"-"`
	hidden  int
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		in      string
		want    section
		wantErr string
	}{
		{in: "size: 3\nname: a\n", want: section{Size: 3, Name: "a"}},
		{in: "size: 0\n", want: section{Size: 0, Name: "default"}},
		{in: "size: 1\ncolour: red\n", wantErr: "line 2: field colour not found in type yamlx.section"},
		{in: "Ignored: x\n", wantErr: "field Ignored not found"},
		{in: "size: many\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.in), &n); err != nil {
			t.Fatal(err)
		}
		got := section{Size: 9, Name: "default"}
		err := DecodeStrict(n.Content[0], &got, "yamlx.section")
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.wantErr == "" && got != tt.want:
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
	_ = section{}.hidden
}
