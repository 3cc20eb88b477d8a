package resolver

// msgTrunc is none: x/net's batch reads on Windows are one ReadFrom each
// and report no flags; a datagram the buffer cut comes back as the
// read's error (WSAEMSGSIZE) instead.
const msgTrunc = 0
