package logs

import "time"

// stampCache formats the records' times as time.RFC3339Nano in UTC, the
// way time.Time.AppendFormat does, but keeps the text of the last second:
// a line of either log written at a high rate then costs a copy and the
// fraction, not a calendar computation (time formatting was a fifth of a
// block record's encoding, on the core that answers). Each log's writer
// goroutine owns one; it is not safe for concurrent use. A nil cache
// formats every time afresh.
type stampCache struct {
	sec  int64    // the Unix second prefix holds; valid when n > 0
	n    int      // length of prefix
	text [32]byte // "2006-01-02T15:04:05"
}

// append appends t as time.RFC3339Nano in UTC.
func (c *stampCache) append(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if c == nil {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	// The same second as the last line needs no calendar at all.
	if sec := t.Unix(); c.n == 0 || sec != c.sec {
		if y := t.Year(); y < 1 || y > 9999 {
			// Outside four-digit years the layout is not fixed width.
			return t.AppendFormat(dst, time.RFC3339Nano)
		}
		c.sec, c.n = sec, len(t.AppendFormat(c.text[:0], "2006-01-02T15:04:05"))
	}
	dst = append(dst, c.text[:c.n]...)
	if ns := t.Nanosecond(); ns != 0 {
		// RFC3339Nano's .999999999: up to nine digits, trailing zeros
		// dropped.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		end := 10
		for frac[end-1] == '0' {
			end--
		}
		dst = append(dst, frac[:end]...)
	}
	return append(dst, 'Z')
}
