package blocklist

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"
)

// Limits from RFC 1035 §2.3.4, in presentation form without the root dot.
const (
	MaxLabelLen = 63
	MaxNameLen  = 253
)

// CanonicalName validates a rule name and returns its canonical form: lower
// case, no trailing dot. Labels are 1-63 bytes of [a-z0-9_-] (underscore
// appears in real feeds) without a leading or trailing hyphen; the whole
// name is at most 253 bytes. IDNs must already be A-labels (xn--...).
// "." and "" are the root and return "" with a nil error.
func CanonicalName(s string) (string, error) {
	if s == "" || s == "." {
		return "", nil
	}
	if isCanonical(s) {
		return s, nil // feeds hand over canonical names; skip the full checks
	}
	return canonicalNameFull(s)
}

// Name is a name CanonicalName accepted, in the form it returned. Only
// this package makes one, so a Rule whose Name is a Name's own string
// (Rule.Canon) reaches the builder already checked: a parser that
// canonicalised its names hands them over without the builder checking
// every one again.
type Name struct{ s string }

// Canonical is CanonicalName returning a Name.
func Canonical(s string) (Name, error) {
	c, err := CanonicalName(s)
	if err != nil {
		return Name{}, err
	}
	return Name{c}, nil
}

// String returns the canonical name.
func (n Name) String() string { return n.s }

// holds reports whether s is n's own string: the same bytes in memory,
// not only equal ones, so that it costs no pass over s. A Rule whose Name
// was set to another string, even an equal one, is checked as usual.
func (n Name) holds(s string) bool {
	return len(s) > 0 && len(s) == len(n.s) && unsafe.StringData(s) == unsafe.StringData(n.s)
}

// ruleName is the canonical name of r for the builder: r.Canon's when it
// holds r.Name, else CanonicalName's.
func ruleName(r Rule) (string, error) {
	if r.Canon.holds(r.Name) {
		return r.Name, nil
	}
	return CanonicalName(r.Name)
}

// canonicalNameFull is CanonicalName without the fast path: it validates
// every byte and label and says what is wrong.
func canonicalNameFull(s string) (string, error) {
	if s == "" || s == "." {
		return "", nil
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if len(s) > MaxNameLen {
		return "", fmt.Errorf("name is %d bytes long, the maximum is %d", len(s), MaxNameLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
			default:
				if c >= 0x80 {
					return "", fmt.Errorf("non-ASCII character in %q: IDNs must be given as A-labels (xn--...)", s)
				}
				return "", fmt.Errorf("invalid character %q in %q", c, s)
			}
			continue
		}
		label := s[start:i]
		switch {
		case len(label) == 0:
			return "", fmt.Errorf("empty label in %q", s)
		case len(label) > MaxLabelLen:
			return "", fmt.Errorf("label %q is %d bytes long, the maximum is %d", label, len(label), MaxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		start = i + 1
	}
	return toLowerASCII(s), nil
}

// isCanonical reports whether s is already what CanonicalName returns for
// it, so Add and the feeds cost little for names already canonical. It
// reads s eight bytes a word (canonWord): a byte-at-a-time loop with a
// branch at every label's end was a fifth of a cold parse. A false answer
// only means "take the full path"; TestIsCanonicalSWAR holds it to the
// byte-at-a-time definition (isCanonicalBytes).
func isCanonical(s string) bool {
	n := len(s)
	if n == 0 || n > MaxNameLen || s[n-1] == '.' || s[n-1] == '-' {
		return false
	}
	// prevDot, prevHyph: whether the byte before the current word is a
	// separator or a hyphen, in the high bit of the word's byte 0; the
	// start counts as a separator, so a leading dot or hyphen fails.
	prevDot, prevHyph := uint64(hi8), uint64(0)
	b := unsafe.Slice(unsafe.StringData(s), n)
	i := 0
	for ; i+8 <= n; i += 8 {
		if !canonWord(binary.LittleEndian.Uint64(b[i:]), &prevDot, &prevHyph) {
			return false
		}
	}
	if r := n - i; r > 0 {
		var w uint64
		if n >= 8 { // the last eight bytes, without those already read
			w = binary.LittleEndian.Uint64(b[n-8:]) >> (8 * (8 - r))
		} else {
			for j := r - 1; j >= 0; j-- {
				w = w<<8 | uint64(s[i+j])
			}
		}
		// Pad with 'a', which no check trips over; the last byte was
		// checked above.
		w |= ones * 'a' << (8 * r)
		if !canonWord(w, &prevDot, &prevHyph) {
			return false
		}
	}
	if n <= MaxLabelLen {
		return true
	}
	for start := 0; start < n; { // a label over MaxLabelLen bytes
		end := strings.IndexByte(s[start:], '.')
		if end < 0 {
			end = n - start
		}
		if end > MaxLabelLen {
			return false
		}
		start += end + 1
	}
	return true
}

const (
	ones = 0x0101010101010101
	hi8  = 0x80 // byte 0's high bit
)

// canonWord reports whether the eight bytes of w (byte k of the name in
// bits 8k..8k+7) are all of [a-z0-9_.-], with no empty label and no
// label starting or ending with a hyphen within them or across from the
// previous word, whose last byte's kind prevDot and prevHyph carry in
// and out. Each byte class is a SWAR range or equality test: a byte's
// high bit in the result says the byte is in the class.
func canonWord(w uint64, prevDot, prevHyph *uint64) bool {
	if w&(ones*0x80) != 0 { // not ASCII
		return false
	}
	dot := eqBytes(w, '.')
	hyph := eqBytes(w, '-')
	ok := inBytes(w, 'a', 'z') | inBytes(w, '0', '9') | eqBytes(w, '_') | dot | hyph
	if ok != ones*0x80 {
		return false
	}
	dotBefore := dot<<8 | *prevDot    // the byte before each byte is a separator
	hyphBefore := hyph<<8 | *prevHyph // or a hyphen
	if dot&dotBefore != 0 || hyph&dotBefore != 0 || dot&hyphBefore != 0 {
		return false // an empty label, or a hyphen at a label's start or end
	}
	*prevDot, *prevHyph = dot>>56, hyph>>56
	return true
}

// eqBytes marks the bytes of w (all ASCII) equal to c.
func eqBytes(w uint64, c byte) uint64 {
	x := w ^ ones*uint64(c) // zero where equal; every byte still < 0x80
	return ^(x + ones*0x7f) & (ones * 0x80)
}

// inBytes marks the bytes of w (all ASCII) in [lo, hi], lo and hi
// ASCII: adding 0x80-lo sets a byte's high bit when it is >= lo, adding
// 0x7f-hi when it is > hi, and no sum carries into the next byte.
func inBytes(w uint64, lo, hi byte) uint64 {
	ge := w + ones*uint64(0x80-lo)
	gt := w + ones*uint64(0x7f-hi)
	return ge &^ gt & (ones * 0x80)
}
