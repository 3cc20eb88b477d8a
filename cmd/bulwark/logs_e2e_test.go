package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-dns/bulwark/internal/dnstaptest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestBinaryLogsRotateAndDnstap runs the binary with the block log and the
// query log in files and dnstap to a unix socket, rotates both logs the way
// logrotate does (rename, then SIGHUP), and checks that every query is in
// exactly the file it should be and reached the dnstap collector.
func TestBinaryLogsRotateAndDnstap(t *testing.T) {
	digPath := needDig(t)
	lt := newLogTest(t)
	port, admin, dir := lt.port, lt.admin, lt.dir
	col := dnstaptest.New(t, "unix").Start()
	frames := col.Frames

	blocked, queries := filepath.Join(dir, "blocked.jsonl"), filepath.Join(dir, "queries.jsonl")
	cfg := lt.head + fmt.Sprintf(`log:
  blocked: %q
  queries: %q
  query_sample: 1.0
dnstap:
  socket: "%s"
  identity: e2e
`, blocked, queries, col.Socket())
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, admin, "-config", cfgPath)

	dig(t, digPath, port, "www.example.org", "A")
	dig(t, digPath, port, "+tcp", "a.evil.example", "A")
	waitLines(t, queries, 2)
	waitLines(t, blocked, 1)

	// logrotate, create mode: rename, then signal.
	for _, f := range []string{blocked, queries} {
		if err := os.Rename(f, f+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFile(t, blocked)
	waitFile(t, queries)
	dig(t, digPath, port, "www2.example.org", "AAAA")
	dig(t, digPath, port, "b.evil.example", "A")
	dig(t, digPath, port, "+tcp", "www3.example.org", "A")

	p.stop(t, syscall.SIGTERM)

	for _, c := range []struct {
		file  string
		names []string
	}{
		{queries + ".1", []string{"www.example.org", "a.evil.example"}},
		{queries, []string{"www2.example.org", "b.evil.example", "www3.example.org"}},
		{blocked + ".1", []string{"a.evil.example"}},
		{blocked, []string{"b.evil.example"}},
	} {
		b := testfile.Read(t, c.file)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != len(c.names) {
			t.Errorf("%s: %d lines, want %d:\n%s", filepath.Base(c.file), len(lines), len(c.names), b)
			continue
		}
		for i, n := range c.names {
			if !strings.Contains(lines[i], `"qname":"`+n+`"`) {
				t.Errorf("%s line %d = %s, want qname %s", filepath.Base(c.file), i, lines[i], n)
			}
		}
	}

	// dnstap: a query and a response frame for each of the five queries.
	var got []string
	for len(got) < 10 {
		select {
		case f := <-frames:
			var dt dnstappb.Dnstap
			if err := proto.Unmarshal(f, &dt); err != nil {
				t.Fatal(err)
			}
			m := dt.GetMessage()
			wire := m.GetQueryMessage()
			if m.GetType() == dnstappb.Message_CLIENT_RESPONSE {
				wire = m.GetResponseMessage()
			}
			var msg dns.Msg
			if err := msg.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if string(dt.GetIdentity()) != "e2e" {
				t.Errorf("identity %q", dt.GetIdentity())
			}
			got = append(got, fmt.Sprintf("%v %v %s", m.GetType(), m.GetSocketProtocol(), msg.Question[0].Name))
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d dnstap frames: %v", len(got), got)
		}
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"CLIENT_QUERY UDP www.example.org.", "CLIENT_RESPONSE UDP www.example.org.",
		"CLIENT_QUERY TCP a.evil.example.", "CLIENT_RESPONSE TCP a.evil.example.",
		"CLIENT_RESPONSE TCP www3.example.org.",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("dnstap frames lack %q:\n%s", want, joined)
		}
	}
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	wait.For(t, fmt.Sprintf("%s to have %d lines", path, n), func() bool {
		b, err := os.ReadFile(path)
		return err == nil && bytes.Count(b, []byte("\n")) >= n
	})
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	wait.For(t, path+" to be reopened after SIGHUP", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}
