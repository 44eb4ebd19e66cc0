package sts

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awsquery"
)

// fillAll sets every string and *int field of v (a pointer to a struct),
// at any depth, to a distinct value; strings carry every character XML
// escapes, so appender and encoding/xml must agree on escaping too.
func fillAll(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillAll(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			fillAll(v.Field(i), n)
		}
	case reflect.String:
		*n++
		v.SetString(fmt.Sprintf("v%d <&>\"' \t\n\r é \x01 \xff", *n))
	case reflect.Int:
		*n++
		v.SetInt(int64(*n))
	default:
		panic("fillAll: unhandled kind " + v.Kind().String())
	}
}

// TestAppendXMLMatchesEncodingXML holds each hand-written result to what
// encoding/xml writes for it, with every field set and with none.
func TestAppendXMLMatchesEncodingXML(t *testing.T) {
	for _, newResult := range []func() awsquery.XMLAppender{
		func() awsquery.XMLAppender { return &WebIdentityResult{} },
		func() awsquery.XMLAppender { return &CallerIdentityResult{} },
	} {
		for _, full := range []bool{true, false} {
			r := newResult()
			name := fmt.Sprintf("%T full=%v", r, full)
			t.Run(name, func(t *testing.T) {
				if full {
					n := 0
					fillAll(reflect.ValueOf(r), &n)
				}
				var want bytes.Buffer
				if err := xml.NewEncoder(&want).EncodeElement(r, xml.StartElement{Name: xml.Name{Local: "R"}}); err != nil {
					t.Fatal(err)
				}
				got := "<R>" + string(r.AppendXML(nil)) + "</R>"
				if got != want.String() {
					t.Errorf("AppendXML:\n%s\nencoding/xml:\n%s", got, want.String())
				}
			})
		}
	}
}

// BenchmarkWriteWebIdentityResult writes an exchange's response through
// awsquery.WriteResult, as the server does: appended by hand (the server's
// path) and through encoding/xml's reflection (what it replaced).
func BenchmarkWriteWebIdentityResult(b *testing.B) {
	r := &WebIdentityResult{SubjectFromWebIdentityToken: "org/0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11/project/4f1c2d3e/user/u",
		Provider: "oidc.circleci.com/org/0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11", Audience: "0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11"}
	r.Credentials = CredentialsXML{AccessKeyID: "ASIAEXAMPLEEXAMPLE01", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken: strings.Repeat("IQoJb3JpZ2luX2VjE", 35), Expiration: "2026-03-01T13:00:00Z"}
	r.AssumedRoleUser = AssumedRoleUserXML{AssumedRoleID: "AROAEXAMPLEEXAMPLE001:CircleCI", Arn: "arn:aws:sts::123456789012:assumed-role/deploy/CircleCI"}
	size, pct := 595, 30
	r.SessionTokenSize, r.SessionTokenUtilization = &size, &pct
	type plain WebIdentityResult // the same fields without AppendXML: encoding/xml
	for _, c := range []struct {
		name   string
		result any
	}{{"appended", r}, {"reflection", (*plain)(r)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				awsquery.WriteResult(w, awsquery.NamespaceSTS, "AssumeRoleWithWebIdentity", "req-1", c.result)
			}
		})
	}
}
