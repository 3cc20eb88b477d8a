package logsink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// field is one top-level member of a log record, in the record's order.
type field struct {
	key string
	// str is the member's value when it is a JSON string, unescaped; raw
	// is its JSON text otherwise (numbers, booleans, objects).
	str      string
	raw      []byte
	isString bool
}

// text returns the value as a syslog parameter carries it.
func (f *field) text() string {
	if f.isString {
		return f.str
	}
	return string(f.raw)
}

// parseRecord reads one JSON line of the block or query log: an object
// whose members become syslog parameters in order. Sinks read the lines the
// logs already write rather than the logs' records, so every destination
// carries exactly what the file would, privacy settings included.
func parseRecord(line []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("a record is not a JSON object")
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("member %q: %w", key, err)
		}
		f := field{key: key, raw: raw}
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &f.str); err != nil {
				return nil, fmt.Errorf("member %q: %w", key, err)
			}
			f.isString = true
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// recordTime returns the record's "time" member, or now when it has none
// that parses: the time the decision was made, not the time of delivery.
func recordTime(fields []field, now time.Time) time.Time {
	for i := range fields {
		if fields[i].key == "time" && fields[i].isString {
			if t, err := time.Parse(time.RFC3339Nano, fields[i].str); err == nil {
				return t
			}
		}
	}
	return now
}

// lines calls fn for each non-empty line of p, without its newline.
func lines(p []byte, fn func(line []byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		var line []byte
		if i < 0 {
			line, p = p, nil
		} else {
			line, p = p[:i], p[i+1:]
		}
		if len(line) > 0 {
			fn(line)
		}
	}
}
