//go:build unix && !linux

package resolver

import "golang.org/x/sys/unix"

// msgTrunc is the flag x/net's batch reads set on a datagram the buffer
// cut.
const msgTrunc = unix.MSG_TRUNC
