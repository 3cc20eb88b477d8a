// Package errlist writes the message of an error that stands for several:
// a query every server failed, reported as why it failed overall and then
// what each server did, on one line an operator can read in a log.
package errlist

import "strings"

// Format returns reason, then ": " and the messages of errs separated by
// "; " (reason alone when errs is empty).
func Format(reason string, errs []error) string {
	var sb strings.Builder
	sb.WriteString(reason)
	for i, err := range errs {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(err.Error())
	}
	return sb.String()
}
