package dnstest

import (
	"fmt"
	"net"
	"testing"
)

// FreePort finds a port free for both UDP and TCP on 127.0.0.1, for a
// server a test starts as a separate process (named, bulwark).
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		uc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := uc.LocalAddr().(*net.UDPAddr).Port
		tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		uc.Close()
		if err == nil {
			tl.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
