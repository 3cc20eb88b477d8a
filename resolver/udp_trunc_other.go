//go:build !unix

package resolver

// msgTrunc is none: x/net's batch reads on Windows (and the other OSes
// that are not Unix) are one ReadFrom each and report no flags; a datagram
// the buffer cut comes back as the read's error (WSAEMSGSIZE on Windows)
// instead.
const msgTrunc = 0
