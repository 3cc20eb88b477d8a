package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The generator is deterministic (the same seed, the same files), and
// every zone it writes is one NSD loads (nsd-checkzone, when NSD is
// installed: bench/recursive installs it).
func TestGenerate(t *testing.T) {
	o := options{seed: 7, zones: 60, servers: 3, rounds: 2, warm: 20, net: "127.53", cold: "c5k:50,csat:80", first: 0.3}
	a, b := t.TempDir(), t.TempDir()
	generate(a, o)
	generate(b, o)
	files := 0
	err := filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		// nsd.conf holds its own directory: the rest must be equal.
		if !bytes.Equal(bytes.ReplaceAll(x, []byte(a), nil), bytes.ReplaceAll(y, []byte(b), nil)) {
			t.Errorf("%s differs between two runs with one seed", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file  string
		lines int
	}{
		{"cold_c5k_1.txt", 50}, {"cold_csat_2.txt", 80}, {"warm.txt", 20},
		{"servers.txt", 1 + 3 + 3}, {"root.hints", 2},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(a, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n != tt.lines {
			t.Errorf("%s: %d lines, want %d", tt.file, n, tt.lines)
		}
	}
	// first-contact zones are touched by no other workload.
	first, _ := os.ReadFile(filepath.Join(a, "first_1.txt"))
	others := ""
	for _, f := range []string{"cold_c5k_1.txt", "cold_c5k_2.txt", "cold_csat_1.txt", "cold_csat_2.txt", "warm.txt", "checks.txt"} {
		b, _ := os.ReadFile(filepath.Join(a, f))
		others += string(b)
	}
	for _, line := range strings.Fields(string(first)) {
		if zone, ok := strings.CutPrefix(line, "www."); ok && strings.Contains(others, "."+zone) {
			t.Errorf("first-contact zone %s is asked by another workload", zone)
		}
	}
	if _, err := exec.LookPath("nsd-checkzone"); err != nil {
		t.Skip("nsd-checkzone not installed (apt-get install nsd); zone syntax not checked")
	}
	zones, _ := filepath.Glob(filepath.Join(a, "nsd", "*", "*.zone"))
	for _, z := range zones {
		origin := strings.TrimSuffix(filepath.Base(z), ".zone")
		if origin == "root" {
			origin = "."
		}
		if out, err := exec.Command("nsd-checkzone", origin, z).CombinedOutput(); err != nil {
			t.Errorf("nsd-checkzone %s: %v\n%s", z, err, out)
		}
	}
	if len(zones) < 60 {
		t.Fatalf("%d zone files, want at least the 60 zones", len(zones))
	}
}
