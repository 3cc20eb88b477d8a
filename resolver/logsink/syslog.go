package logsink

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Severities of the two logs' messages (RFC 5424 §6.2.1): a block is a
// notice, a query informational.
const (
	sevNotice = 5
	sevInfo   = 6
)

// syslogFormat builds RFC 5424 messages from log records:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v" ...] JSON
//
// Every record member is a parameter of one structured-data element, so a
// SIEM that parses RFC 5424 gets fields without parsing JSON, and the MSG
// is the JSON line itself for those that prefer it.
type syslogFormat struct {
	pri      string // "<PRI>1 "
	hostname string
	appName  string
	procID   string
	msgID    string
	sdID     string
}

func newSyslogFormat(cfg *Config) *syslogFormat {
	sev, msgID := sevNotice, "block"
	if cfg.Log == "queries" {
		sev, msgID = sevInfo, "query"
	}
	host := cfg.Syslog.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if !printable(host, 255) {
			host = "-"
		}
	}
	return &syslogFormat{
		pri:      "<" + strconv.Itoa(facilities[cfg.Syslog.Facility]*8+sev) + ">1 ",
		hostname: host,
		appName:  cfg.Syslog.AppName,
		procID:   strconv.Itoa(os.Getpid()),
		msgID:    msgID,
		sdID:     cfg.Syslog.SDID,
	}
}

// rfc5424Time is RFC 5424's TIMESTAMP: RFC 3339 with at most six digits of
// fractional seconds.
const rfc5424Time = "2006-01-02T15:04:05.000000Z07:00"

// append appends the message of one record (a JSON line without its
// newline). A line that is not a JSON object is sent as the MSG alone,
// with no structured data, rather than lost.
func (f *syslogFormat) append(dst, line []byte, now time.Time) []byte {
	fields, err := parseRecord(line)
	dst = append(dst, f.pri...)
	dst = recordTime(fields, now).UTC().AppendFormat(dst, rfc5424Time)
	dst = append(dst, ' ')
	dst = append(dst, f.hostname...)
	dst = append(dst, ' ')
	dst = append(dst, f.appName...)
	dst = append(dst, ' ')
	dst = append(dst, f.procID...)
	dst = append(dst, ' ')
	dst = append(dst, f.msgID...)
	dst = append(dst, ' ')
	if err != nil || len(fields) == 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, '[')
		dst = append(dst, f.sdID...)
		for i := range fields {
			if !validSDName(fields[i].key) {
				continue
			}
			dst = append(dst, ' ')
			dst = append(dst, fields[i].key...)
			dst = append(dst, `="`...)
			dst = appendParamValue(dst, fields[i].text())
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, ' ')
	return append(dst, line...)
}

// appendParamValue escapes '"', '\' and ']' as RFC 5424 §6.3.3 requires.
func appendParamValue(dst []byte, v string) []byte {
	for {
		i := strings.IndexAny(v, `"\]`)
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		dst = append(dst, '\\', v[i])
		v = v[i+1:]
	}
}

// appendOctetCounted frames msg for a stream (RFC 6587 §3.4.1, which RFC
// 5425 §4.3 makes the TLS framing): its length in octets, a space, msg.
func appendOctetCounted(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}
