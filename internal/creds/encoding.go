package creds

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

// The sealed payload is a compact binary record: uvarint-length-prefixed
// strings and lists, a flags byte, and times as varint Unix seconds. It is
// only ever decoded after the AEAD has authenticated it, but the decoder is
// still strict (every length checked, no trailing bytes).
//
// The runner fields (IssuerID, CreatorRoleName, CreatorRoleID) form an
// optional tail, written only when one is set: role session tokens keep
// the original layout, and tokens sealed before the tail existed open with
// those fields empty.

const flagChained = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

// recordStrings are the session's plain strings in record order; the
// runner fields (the last three) are written only when one is set.
func recordStrings(s *Session) [13]string {
	return [13]string{s.Account, s.RoleName, s.RolePath, s.RoleID, s.SessionName,
		s.SourceIdentity, s.SessionPolicy, s.ProviderARN, s.Subject, s.Audience,
		s.IssuerID, s.CreatorRoleName, s.CreatorRoleID}
}

// runnerFields is how many of recordStrings form the optional tail.
const runnerFields = 3

// encodedSize bounds what encodeSession appends for s: each string's
// bytes and a length of at most binary.MaxVarintLen64, plus the fixed part.
func encodedSize(s *Session) int {
	n := secretRawLen + 1 + 2*binary.MaxVarintLen64 + 3*binary.MaxVarintLen64
	str := func(v string) { n += binary.MaxVarintLen64 + len(v) }
	for _, f := range recordStrings(s) {
		str(f)
	}
	for _, t := range s.Tags {
		str(t.Key)
		str(t.Value)
	}
	for _, v := range s.TransitiveTagKeys {
		str(v)
	}
	for _, v := range s.PolicyARNs {
		str(v)
	}
	return n
}

func encodeSession(b []byte, s *Session, secret []byte) []byte {
	b = append(b, secret...)
	var flags byte
	if s.Chained {
		flags |= flagChained
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, s.Issued.Unix())
	b = binary.AppendVarint(b, s.Expiration.Unix())
	fields := recordStrings(s)
	fixed, runner := fields[:len(fields)-runnerFields], fields[len(fields)-runnerFields:]
	for _, f := range fixed {
		b = appendString(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Tags)))
	for _, t := range s.Tags {
		b = appendString(b, t.Key)
		b = appendString(b, t.Value)
	}
	b = appendStrings(b, s.TransitiveTagKeys)
	b = appendStrings(b, s.PolicyARNs)
	if slices.ContainsFunc(runner, func(f string) bool { return f != "" }) {
		for _, f := range runner {
			b = appendString(b, f)
		}
	}
	return b
}

var errCorrupt = errors.New("corrupt session record")

// decoder reads a session record from the one string its fields are
// substrings of: Open converts the opened record to a string once, not
// once per field.
type decoder struct {
	s   string
	err error
}

func (d *decoder) string(n int) string {
	if d.err != nil || n < 0 || n > len(d.s) {
		d.err = errCorrupt
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	// The conversion does not copy: the bytes neither escape nor change.
	v, n := binary.Uvarint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.s = d.s[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.s = d.s[n:]
	return v
}

// count reads a length that must fit in what is left.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) str() string { return d.string(d.count()) }

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}

// decodeSession reads a record encodeSession wrote. The session's strings
// and the secret are substrings of b.
func decodeSession(b string) (Session, string, error) {
	d := &decoder{s: b}
	secret := d.string(secretRawLen)
	flags := d.string(1)
	var s Session
	issued, expires := d.varint(), d.varint()
	for _, f := range []*string{&s.Account, &s.RoleName, &s.RolePath, &s.RoleID, &s.SessionName,
		&s.SourceIdentity, &s.SessionPolicy, &s.ProviderARN, &s.Subject, &s.Audience} {
		*f = d.str()
	}
	if n := d.count(); n > 0 {
		s.Tags = make([]Tag, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			s.Tags = append(s.Tags, Tag{Key: d.str(), Value: d.str()})
		}
	}
	s.TransitiveTagKeys = d.strings()
	s.PolicyARNs = d.strings()
	if d.err == nil && len(d.s) > 0 {
		s.IssuerID, s.CreatorRoleName, s.CreatorRoleID = d.str(), d.str(), d.str()
	}
	if d.err != nil {
		return Session{}, "", d.err
	}
	if len(d.s) != 0 || flags[0]&^flagChained != 0 {
		return Session{}, "", errCorrupt
	}
	s.Chained = flags[0]&flagChained != 0
	s.Issued = time.Unix(issued, 0).UTC()
	s.Expiration = time.Unix(expires, 0).UTC()
	return s, secret, nil
}
