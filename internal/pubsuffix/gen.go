//go:build ignore

// gen writes rules.txt from the rule list golang.org/x/net/publicsuffix was
// generated from (its table_test.go, in the module go.mod requires), so
// that the filter and x/net's table are the same list of the same version.
//
//	go generate ./internal/pubsuffix
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "golang.org/x/net").Output()
	if err != nil {
		log.Fatalf("go list golang.org/x/net: %v", err)
	}
	dir, version, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		log.Fatalf("go list golang.org/x/net: unexpected output %q", out)
	}
	src := filepath.Join(dir, "publicsuffix", "table_test.go")
	rules, err := readRules(src)
	if err != nil {
		log.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# golang.org/x/net %s publicsuffix/table_test.go: its rules, one a line, by gen.go; do not edit\n", version)
	for _, r := range rules {
		if strings.ContainsAny(r, "\n#") || r == "" {
			log.Fatalf("%s: rule %q cannot be written", src, r)
		}
		b.WriteString(r)
		b.WriteByte('\n')
	}
	if err := os.WriteFile("rules.txt", b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("rules.txt: %d rules from golang.org/x/net %s", len(rules), version)
}

// readRules returns the elements of the rules array in src.
func readRules(src string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		return nil, err
	}
	var rules []string
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "rules" || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		found = true
		for _, e := range lit.Elts {
			bl, ok := e.(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				err = fmt.Errorf("%s: a rule is not a string literal", src)
				return false
			}
			s, uerr := strconv.Unquote(bl.Value)
			if uerr != nil {
				err = fmt.Errorf("%s: %v", src, uerr)
				return false
			}
			rules = append(rules, s)
		}
		return false
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: no rules array (has x/net changed how it tests its table?)", src)
	}
	return rules, err
}
