package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxJSONDepth bounds nesting in token headers, payloads and key sets.
const maxJSONDepth = 64

// linearKeys is how many member names of one object are compared linearly
// before checkJSON switches to a set.
const linearKeys = 32

var (
	errDuplicateMember = errors.New("duplicate JSON member name")
	errJSONSyntax      = errors.New("malformed JSON")
	errJSONDepth       = errors.New("JSON nested too deeply")
)

// checkJSON reports whether data is a single JSON value in which no object,
// at any depth, repeats a member name (compared after unescaping, so "a"
// and "\u0061" collide). encoding/json silently keeps the last duplicate;
// this check runs first so that two readers of one token can never disagree.
// It allocates only for keys that contain escapes.
func checkJSON(data []byte) error {
	s := jsonScanner{data: data}
	return s.document()
}

// document scans data as one JSON value with nothing after it.
func (s *jsonScanner) document() error {
	if err := s.value(0); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.data) {
		return fmt.Errorf("%w: trailing data", errJSONSyntax)
	}
	return nil
}

type jsonScanner struct {
	data []byte
	pos  int
	keys [][]byte // member names of the objects being scanned, a stack
	// top, when collecting, receives the members of the outermost object.
	collecting bool
	top        []member
}

// member is one member of a JSON object: its name, unescaped, and its
// value exactly as written, which starts at offset at of the scanned data.
type member struct {
	name, value []byte
	at          int
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(depth int) error {
	s.ws()
	if s.pos >= len(s.data) {
		return fmt.Errorf("%w: unexpected end", errJSONSyntax)
	}
	switch s.data[s.pos] {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case '"':
		_, err := s.str()
		return err
	default:
		return s.literal()
	}
}

func (s *jsonScanner) object(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	s.pos++ // '{'
	base := len(s.keys)
	var seen map[string]struct{}
	defer func() { s.keys = s.keys[:base] }()
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return fmt.Errorf("%w: expected member name", errJSONSyntax)
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if seen != nil {
			if _, dup := seen[string(key)]; dup {
				return fmt.Errorf("%w: %q", errDuplicateMember, key)
			}
			seen[string(key)] = struct{}{}
		} else {
			for _, k := range s.keys[base:] {
				if bytes.Equal(k, key) {
					return fmt.Errorf("%w: %q", errDuplicateMember, key)
				}
			}
			s.keys = append(s.keys, key)
			if len(s.keys)-base > linearKeys {
				// Large object: switch to a set to stay linear in its size.
				seen = make(map[string]struct{}, 2*linearKeys)
				for _, k := range s.keys[base:] {
					seen[string(k)] = struct{}{}
				}
			}
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return fmt.Errorf("%w: expected ':'", errJSONSyntax)
		}
		s.pos++
		s.ws()
		start := s.pos
		if err := s.value(depth); err != nil {
			return err
		}
		if s.collecting && depth == 1 {
			s.top = append(s.top, member{name: key, value: s.data[start:s.pos], at: start})
		}
		s.ws()
		if s.pos >= len(s.data) {
			return fmt.Errorf("%w: unterminated object", errJSONSyntax)
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or '}'", errJSONSyntax)
		}
	}
}

func (s *jsonScanner) array(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	s.pos++ // '['
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return fmt.Errorf("%w: unterminated array", errJSONSyntax)
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return fmt.Errorf("%w: expected ',' or ']'", errJSONSyntax)
		}
	}
}

// str consumes a string starting at '"' and returns its unescaped content.
func (s *jsonScanner) str() ([]byte, error) {
	start := s.pos
	s.pos++ // opening quote
	escaped := false
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !escaped {
				return s.data[start+1 : s.pos-1], nil
			}
			var out string
			if err := json.Unmarshal(s.data[start:s.pos], &out); err != nil {
				return nil, fmt.Errorf("%w: bad string: %w", errJSONSyntax, err)
			}
			return []byte(out), nil
		case c == '\\':
			escaped = true
			s.pos += 2
		case c < 0x20:
			return nil, fmt.Errorf("%w: control character in string", errJSONSyntax)
		default:
			s.pos++
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errJSONSyntax)
}

// literal consumes a number, true, false or null, in RFC 8259's grammar.
func (s *jsonScanner) literal() error {
	rest := s.data[s.pos:]
	for _, word := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(rest, []byte(word)) {
			s.pos += len(word)
			return nil
		}
	}
	n := numberLen(rest)
	if n == 0 {
		if len(rest) == 0 {
			return fmt.Errorf("%w: unexpected end", errJSONSyntax)
		}
		return fmt.Errorf("%w: unexpected character %q", errJSONSyntax, rest[0])
	}
	s.pos += n
	return nil
}

// numberLen is the length of the JSON number b starts with, 0 if none:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberLen(b []byte) int {
	i := 0
	digits := func() int {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0
		}
	}
	return i
}
