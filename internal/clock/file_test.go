package clock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFaketime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"@2026-12-02 10:00:00", time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), false},
		{"  @2001-02-03 04:05:06\n", time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), false},
		{"2026-12-02 10:00:00", time.Time{}, true},
		{"+2d", time.Time{}, true},
		{"@2026-13-02 10:00:00", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFaketime(tt.in)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("ParseFaketime(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// The clock starts at the file's time, runs on from there, and jumps when
// the file is rewritten.
func TestFileClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faketime")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewFile(path); err == nil {
		t.Fatal("a missing file: no error")
	}
	write("garbage")
	if _, err := NewFile(path); err == nil || !strings.Contains(err.Error(), "@YYYY-MM-DD") {
		t.Fatalf("garbage: err = %v", err)
	}
	write("@2030-01-01 00:00:00\n")
	c, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n1 := c.Now()
	if n1.Before(start) || n1.After(start.Add(time.Minute)) {
		t.Fatalf("Now = %v, want just after %v", n1, start)
	}
	time.Sleep(10 * time.Millisecond)
	if n2 := c.Now(); !n2.After(n1) {
		t.Errorf("time does not run: %v then %v", n1, n2)
	}
	write("@2031-06-01 12:00:00")
	jumped := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	deadline := time.Now().Add(5 * time.Second)
	for c.Now().Before(jumped) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := c.Now(); n.Before(jumped) || n.After(jumped.Add(time.Minute)) {
		t.Errorf("after the rewrite Now = %v, want just after %v", n, jumped)
	}
	// A bad rewrite keeps the last good time running.
	write("nonsense")
	time.Sleep(2 * pollEvery)
	if n := c.Now(); n.Before(jumped) {
		t.Errorf("after a bad rewrite Now = %v", n)
	}
}
