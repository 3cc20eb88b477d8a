package dnswire

// Lower is c with an ASCII capital folded to lower case. DNS names compare
// case-insensitively in ASCII only (RFC 4343), so no other byte changes:
// not a length octet, not a byte of a UTF-8 sequence.
func Lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether a and b are the same bytes but for ASCII letter
// case (RFC 4343), names in wire or presentation form alike. Unlike
// strings.EqualFold it folds no Unicode and takes no two invalid UTF-8
// bytes for equal.
func EqualFold[T ~string | ~[]byte](a, b T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if Lower(a[i]) != Lower(b[i]) {
			return false
		}
	}
	return true
}
