package feeds

import (
	"strings"
)

// STIX 2.1 patterning (OASIS STIX 2.1 part 9) is a small language of
// observation expressions, "[domain-name:value = 'evil.example']", joined
// by AND, OR and FOLLOWEDBY, with qualifiers (WITHIN, REPEATS,
// START/STOP). A resolver can act on a pattern only when it means "any of
// these names": an equality on domain-name:value or url:value, or an OR of
// such equalities, at either level. Anything else (AND, FOLLOWEDBY, a
// qualifier, another operator) would make Bulwark block more than the
// indicator says, so the whole pattern is skipped. Equalities on other
// object paths inside an OR (an ipv4-addr, a file hash) are dropped and
// counted; the names beside them still block.

// PatternTerm is one equality of a pattern that Bulwark can block on.
type PatternTerm struct {
	// Path is "domain-name:value" or "url:value".
	Path  string
	Value string
}

// PatternResult is what ParseSTIXPattern found.
type PatternResult struct {
	// Terms are the usable equalities, in pattern order.
	Terms []PatternTerm
	// Other counts equalities on object paths Bulwark does not block on.
	Other int
	// Reason is set when the pattern as a whole is not used: a Reason*
	// constant. Syntax says the pattern is malformed (a rejected line)
	// rather than valid but unusable (a skipped one).
	Reason string
	Syntax bool
}

// Skip reasons of STIX indicators (LineError.Skipped) and rejects.
const (
	ReasonSTIXSyntax      = "stix pattern syntax"
	ReasonSTIXAnd         = "stix pattern and"
	ReasonSTIXFollowedBy  = "stix pattern followedby"
	ReasonSTIXQualifier   = "stix pattern qualifier"
	ReasonSTIXOperator    = "stix pattern operator"
	ReasonSTIXObject      = "stix pattern object"
	ReasonSTIXPatternType = "stix pattern type"
	ReasonSTIXObjectPath  = "stix other object path"
	ReasonSTIXBadObject   = "stix bad object"
	ReasonSTIXTimestamp   = "stix bad timestamp"
	ReasonRevoked         = "revoked"
	// ReasonSTIXBenign: an indicator of type "benign" describes activity
	// that is not malicious; it neither blocks nor lifts a block.
	ReasonSTIXBenign = "stix benign indicator"
)

// maxPatternLen and maxPatternDepth bound the work one pattern can cause.
const (
	maxPatternLen   = 64 << 10
	maxPatternDepth = 32
)

// Supported object paths.
const (
	pathDomain = "domain-name:value"
	pathURL    = "url:value"
)

// ParseSTIXPattern parses a STIX 2.1 pattern and returns the equalities
// Bulwark can block on, or why it cannot use the pattern.
func ParseSTIXPattern(pattern string) PatternResult {
	if len(pattern) > maxPatternLen {
		return PatternResult{Reason: ReasonSTIXSyntax, Syntax: true}
	}
	p := &patParser{lex: patLexer{s: pattern}}
	p.advance()
	var res PatternResult
	p.observationOr(&res, 0)
	if p.err == "" && p.tok.kind != tokEOF {
		p.fail(ReasonSTIXSyntax)
	}
	switch {
	case p.err == ReasonSTIXSyntax:
		return PatternResult{Reason: ReasonSTIXSyntax, Syntax: true}
	case p.err != "":
		return PatternResult{Reason: p.err}
	case len(res.Terms) == 0:
		return PatternResult{Reason: ReasonSTIXObject, Other: res.Other}
	}
	return res
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokLBracket
	tokRBracket
	tokLParen
	tokRParen
	tokWord   // keyword or object path
	tokOp     // comparison operator
	tokString // '...'
	tokOther  // another literal: number, t'...', h'...', b'...'
	tokComma  // in a set literal
	tokBad
)

type token struct {
	kind tokKind
	text string // word, operator, or decoded string
}

type patLexer struct {
	s string
	i int
}

// punctTokens are the one-byte tokens without text.
var punctTokens = map[byte]tokKind{'[': tokLBracket, ']': tokRBracket, '(': tokLParen, ')': tokRParen, ',': tokComma}

func (l *patLexer) next() token {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t' || l.s[l.i] == '\n' || l.s[l.i] == '\r') {
		l.i++
	}
	if l.i >= len(l.s) {
		return token{kind: tokEOF}
	}
	c := l.s[l.i]
	if k, ok := punctTokens[c]; ok {
		l.i++
		return token{kind: k}
	}
	switch c {
	case '\'':
		s, ok := l.str()
		if !ok {
			return token{kind: tokBad}
		}
		return token{kind: tokString, text: s}
	case '=':
		l.i++
		return token{kind: tokOp, text: "="}
	case '!', '<', '>':
		l.i++
		op := string(c)
		if l.i < len(l.s) && l.s[l.i] == '=' {
			l.i++
			op += "="
		} else if c == '!' {
			return token{kind: tokBad}
		}
		return token{kind: tokOp, text: op}
	}
	if (c == 't' || c == 'h' || c == 'b') && l.i+1 < len(l.s) && l.s[l.i+1] == '\'' {
		l.i++
		if _, ok := l.str(); !ok {
			return token{kind: tokBad}
		}
		return token{kind: tokOther}
	}
	if c == '-' || '0' <= c && c <= '9' {
		start := l.i
		l.i++
		for l.i < len(l.s) && ('0' <= l.s[l.i] && l.s[l.i] <= '9' || l.s[l.i] == '.') {
			l.i++
		}
		return token{kind: tokOther, text: l.s[start:l.i]}
	}
	if pathByte(c) {
		start := l.i
		for l.i < len(l.s) {
			b := l.s[l.i]
			switch {
			case pathByte(b) || b == ':' || b == '.' || b == '*' || '0' <= b && b <= '9':
				l.i++
			case b == '[': // list index in a path: x:y[*].z, x:y[0]
				j := strings.IndexByte(l.s[l.i:], ']')
				if j < 0 {
					return token{kind: tokBad}
				}
				l.i += j + 1
			case b == '\'': // quoted path component: file:hashes.'SHA-256'
				if _, ok := l.str(); !ok {
					return token{kind: tokBad}
				}
			default:
				return token{kind: tokWord, text: l.s[start:l.i]}
			}
		}
		return token{kind: tokWord, text: l.s[start:l.i]}
	}
	return token{kind: tokBad}
}

func pathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

// str reads a quoted string at l.i ("\'" and "\\" are the only escapes).
func (l *patLexer) str() (string, bool) {
	l.i++ // opening quote
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch c {
		case '\\':
			if l.i+1 >= len(l.s) || l.s[l.i+1] != '\'' && l.s[l.i+1] != '\\' {
				return "", false
			}
			b.WriteByte(l.s[l.i+1])
			l.i += 2
		case '\'':
			l.i++
			return b.String(), true
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return "", false
}

type patParser struct {
	lex  patLexer
	tok  token
	err  string // first reason; parsing stops at the first one
	open int    // brackets and parentheses open at tok
}

func (p *patParser) advance() { p.tok = p.lex.next() }

func (p *patParser) fail(reason string) {
	if p.err == "" {
		p.err = reason
	}
	p.tok = token{kind: tokEOF}
}

func (p *patParser) keyword(w string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, w)
}

// observationOr: observation (OR observation)*, where AND and FOLLOWEDBY
// between observations make the pattern unusable.
func (p *patParser) observationOr(res *PatternResult, depth int) {
	p.orList(res, depth, p.observation)
}

// comparisonOr: test (OR test)* inside brackets.
func (p *patParser) comparisonOr(res *PatternResult, depth int) {
	p.orList(res, depth, p.test)
}

// orList parses item (OR item)*; AND (or FOLLOWEDBY, which the grammar
// only allows between observations, so a syntax error elsewhere is
// reported as unusable rather than malformed) ends it as unusable.
func (p *patParser) orList(res *PatternResult, depth int, item func(*PatternResult, int)) {
	if depth > maxPatternDepth {
		p.fail(ReasonSTIXSyntax)
		return
	}
	for p.err == "" {
		item(res, depth)
		switch {
		case p.err != "":
			return
		case p.keyword("OR"):
			p.advance()
		case p.keyword("AND"):
			p.skipRest(ReasonSTIXAnd)
			return
		case p.keyword("FOLLOWEDBY"):
			p.skipRest(ReasonSTIXFollowedBy)
			return
		default:
			return
		}
	}
}

// skipRest checks that the rest of the pattern is well-formed, so that a
// malformed pattern is reported as such rather than as unusable, and then
// records reason.
func (p *patParser) skipRest(reason string) {
	depth := p.open
	for ; p.tok.kind != tokEOF && p.tok.kind != tokBad && depth >= 0; p.advance() {
		switch p.tok.kind {
		case tokLBracket, tokLParen:
			depth++
		case tokRBracket, tokRParen:
			depth--
		}
	}
	if p.tok.kind == tokBad || depth != 0 {
		p.fail(ReasonSTIXSyntax)
		return
	}
	p.fail(reason)
}

// observation: '[' comparison ']' | '(' observationOr ')', then no
// qualifier.
func (p *patParser) observation(res *PatternResult, depth int) {
	switch p.tok.kind {
	case tokLBracket:
		if !p.group(res, depth, tokRBracket, p.comparisonOr) {
			return
		}
	case tokLParen:
		if !p.group(res, depth, tokRParen, p.observationOr) {
			return
		}
	default:
		p.fail(ReasonSTIXSyntax)
		return
	}
	if p.keyword("WITHIN") || p.keyword("REPEATS") || p.keyword("START") {
		p.skipRest(ReasonSTIXQualifier)
	}
}

// group parses what stands between the current token, an opening
// bracket or parenthesis, and its closing token (of kind closing) with
// inner, one level deeper; false where that failed (p.err is set).
func (p *patParser) group(res *PatternResult, depth int, closing tokKind, inner func(*PatternResult, int)) bool {
	p.open++
	p.advance()
	inner(res, depth+1)
	if p.err == "" && p.tok.kind != closing {
		p.fail(ReasonSTIXSyntax)
	}
	if p.err != "" {
		return false
	}
	p.open--
	p.advance()
	return true
}

// test: path op literal | '(' comparisonOr ')'.
func (p *patParser) test(res *PatternResult, depth int) {
	if p.tok.kind == tokLParen {
		p.group(res, depth, tokRParen, p.comparisonOr)
		return
	}
	if p.keyword("EXISTS") {
		p.skipRest(ReasonSTIXOperator)
		return
	}
	if p.tok.kind != tokWord || !strings.Contains(p.tok.text, ":") {
		p.fail(ReasonSTIXSyntax)
		return
	}
	path := p.tok.text
	p.advance()
	if p.keyword("NOT") {
		p.skipRest(ReasonSTIXOperator)
		return
	}
	switch {
	case p.tok.kind == tokOp && p.tok.text == "=":
	case p.tok.kind == tokOp, p.keyword("LIKE"), p.keyword("MATCHES"), p.keyword("IN"),
		p.keyword("ISSUBSET"), p.keyword("ISSUPERSET"):
		p.skipRest(ReasonSTIXOperator)
		return
	default:
		p.fail(ReasonSTIXSyntax)
		return
	}
	p.advance()
	switch p.tok.kind {
	case tokString:
	case tokOther, tokWord: // a number, a timestamp, true/false: never a name
		if p.tok.kind == tokWord && !p.keyword("true") && !p.keyword("false") {
			p.fail(ReasonSTIXSyntax)
			return
		}
		res.Other++
		p.advance()
		return
	default:
		p.fail(ReasonSTIXSyntax)
		return
	}
	value := p.tok.text
	p.advance()
	switch strings.ToLower(path) {
	case pathDomain:
		res.Terms = append(res.Terms, PatternTerm{Path: pathDomain, Value: value})
	case pathURL:
		res.Terms = append(res.Terms, PatternTerm{Path: pathURL, Value: value})
	default:
		res.Other++
	}
}
