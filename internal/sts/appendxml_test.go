package sts

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
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
