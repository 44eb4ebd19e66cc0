package awsquery

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keylessci/keyless/internal/awserr"
)

func decode(t *testing.T, body string) *Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	q, err := Decode(r)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return q
}

func TestLists(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"member form ordered by index", "Action=X&L.member.2=b&L.member.1=a&L.member.10=c", []string{"a", "b", "c"}},
		{"list form", "Action=X&L.list.1=a", []string{"a"}},
		{"empty list sent by botocore", "Action=X&L=", []string{}},
		{"absent", "Action=X", nil},
		{"garbage index ignored", "Action=X&L.member.x=a&L.member.0=b&L.member.1=c", []string{"c"}},
		{"a name sent twice keeps its first value", "Action=X&L.member.2=b&L.member.1=a&L.member.2=z", []string{"a", "b"}},
		{"escaped names and values", "Action=X&L%2Emember%2E1=a%20b&L.member.2=c+d", []string{"a b", "c d"}},
		{"another parameter with the same prefix", "Action=X&LL.member.1=x&L.member.1=a", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decode(t, tt.body).List("L")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if (tt.want == nil) != (got == nil) {
				t.Errorf("nil-ness differs: want nil=%v", tt.want == nil)
			}
		})
	}
}

func TestGetPrefersTheURL(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/?Action=FromURL&Only=u", strings.NewReader("Action=FromBody&Version=v&Empty="))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	q, err := Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"Action": "FromURL", "Only": "u", "Version": "v", "Empty": "", "Absent": ""} {
		if got := q.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	if !q.Has("Empty") || q.Has("Absent") {
		t.Errorf("Has(Empty) = %v, Has(Absent) = %v", q.Has("Empty"), q.Has("Absent"))
	}
}

func TestStructs(t *testing.T) {
	q := decode(t, "Action=X&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1")
	want := []map[string]string{{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}}
	if diff := cmp.Diff(want, q.Structs("Tags", "Key", "Value")); diff != "" {
		t.Errorf("Structs (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, code string
		status           int
	}{
		{"no action", "Version=2011-06-15", "MissingAction", 400},
		{"too large", "Action=X&P=" + strings.Repeat("a", MaxBodyBytes), "RequestEntityTooLarge", 413},
		{"bad encoding", "Action=X&P=%zz", "MalformedQueryString", 400},
		{"semicolon separator", "Action=X;P=1", "MalformedQueryString", 400},
		{"more parameters than net/url allows", "Action=X" + strings.Repeat("&P=1", maxParams), "MalformedQueryString", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_, err := Decode(r)
			e := awserr.As(err)
			if e == nil || e.Code != tt.code || e.Status != tt.status {
				t.Fatalf("Decode error = %v, want %s/%d", err, tt.code, tt.status)
			}
		})
	}
}

func TestValidatorMessages(t *testing.T) {
	var v Validator
	v.Length("RoleSessionName", "a", 2, 64)
	if got, want := v.Err().(*awserr.Error).Message,
		"1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"; got != want {
		t.Errorf("one error:\n got %q\nwant %q", got, want)
	}
	v.Range("DurationSeconds", 10, 900, 43200)
	if got := v.Err().(*awserr.Error).Message; !strings.HasPrefix(got, "2 validation errors detected: ") || !strings.Contains(got, "; Value '10' at 'durationSeconds'") {
		t.Errorf("two errors: %q", got)
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		wantSubstr []string
		notSubstr  string
	}{
		{"aws error", awserr.New("AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithWebIdentity"), 403,
			[]string{"<Type>Sender</Type>", "<Code>AccessDenied</Code>", "<RequestId>rid</RequestId></ErrorResponse>"}, ""},
		{"internal detail hidden", errTest("db password leaked"), 500,
			[]string{"<Type>Receiver</Type>", "<Code>InternalFailure</Code>"}, "password"},
		{"escaped", awserr.New("X", 400, "a<b&c"), 400, []string{"a&lt;b&amp;c"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, NamespaceSTS, "rid", tt.err)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			body := w.Body.String()
			for _, s := range tt.wantSubstr {
				if !strings.Contains(body, s) {
					t.Errorf("body %q lacks %q", body, s)
				}
			}
			if tt.notSubstr != "" && strings.Contains(body, tt.notSubstr) {
				t.Errorf("body leaks %q: %s", tt.notSubstr, body)
			}
			if w.Header().Get("x-amzn-RequestId") != "rid" || w.Header().Get("Content-Type") != "text/xml" {
				t.Errorf("headers %v", w.Header())
			}
		})
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestWriteResult(t *testing.T) {
	type res struct {
		Arn string `xml:"Arn"`
	}
	w := httptest.NewRecorder()
	WriteResult(w, NamespaceSTS, "GetCallerIdentity", "rid", res{Arn: "a&b"})
	want := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>a&amp;b</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
	if got := w.Body.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	w = httptest.NewRecorder()
	WriteResult(w, NamespaceIAM, "DeleteRole", "rid", nil)
	if got := w.Body.String(); !strings.HasPrefix(got, `<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>`) {
		t.Errorf("no-result body %s", got)
	}
}
