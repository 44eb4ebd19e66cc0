package awsquery

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// XMLAppender is a result that writes its own members, exactly as
// encoding/xml would write them, without reflection. The results of the
// hot calls (AssumeRoleWithWebIdentity, GetCallerIdentity) implement it;
// each has a test holding its output to encoding/xml's for a value with
// every field set, so a field added later and not appended fails that test.
type XMLAppender interface {
	AppendXML(b []byte) []byte
}

// AppendElement appends <name>value</name>, value escaped as
// encoding/xml.EscapeText escapes it.
func AppendElement(b []byte, name, value string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, value)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// AppendIntElement appends <name>n</name> when n is set (an omitempty
// pointer member).
func AppendIntElement(b []byte, name string, n *int) []byte {
	if n == nil {
		return b
	}
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = strconv.AppendInt(b, int64(*n), 10)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendEscaped appends s as XML character data. Printable ASCII other
// than the five escaped characters is copied; anything else goes through
// encoding/xml, so the two never differ.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' {
			buf := bytes.NewBuffer(b)
			_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer never fails
			return buf.Bytes()
		}
	}
	return append(b, s...)
}
