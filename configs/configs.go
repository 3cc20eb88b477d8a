// Package configs holds the configuration Bulwark is shipped with: the
// embedded default config and the bundled lists it refers to as
// "builtin:NAME", so that `bulwark` with no flags blocks real threats on a
// machine with no network.
package configs

import (
	"bytes"
	"embed"
	"io/fs"
)

//go:embed default.yaml
var defaultYAML []byte

//go:embed lists/*.txt
var lists embed.FS

// Default returns the embedded default config file.
func Default() []byte { return bytes.Clone(defaultYAML) }

// Lists returns the bundled lists, named as "builtin:" sources name them
// (e.g. "phishing.txt").
func Lists() fs.FS {
	sub, err := fs.Sub(lists, "lists")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory exists
	}
	return sub
}
