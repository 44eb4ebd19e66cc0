package awsquery

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchCredentials has the shape of AssumeRoleWithWebIdentity's result.
type benchCredentials struct {
	SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
	Audience                    string `xml:"Audience"`
	AssumedRoleUser             struct {
		Arn           string `xml:"Arn"`
		AssumedRoleID string `xml:"AssumedRoleId"`
	} `xml:"AssumedRoleUser"`
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	Provider string `xml:"Provider"`
}

// BenchmarkWriteResult encodes an AssumeRoleWithWebIdentity response
// (XML encode, headers, write) as the server does for every exchange.
func BenchmarkWriteResult(b *testing.B) {
	var r benchCredentials
	r.SubjectFromWebIdentityToken = "org/0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11/project/4f1c2d3e-aaaa-bbbb-cccc-000000000001/user/u/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"
	r.Audience = "0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11"
	r.AssumedRoleUser.Arn = "arn:aws:sts::123456789012:assumed-role/circleci-deploy/CircleCI"
	r.AssumedRoleUser.AssumedRoleID = "AROAEXAMPLEEXAMPLE001:CircleCI"
	r.Credentials.AccessKeyID = "ASIAEXAMPLEEXAMPLE01"
	r.Credentials.SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	r.Credentials.SessionToken = strings.Repeat("IQoJb3JpZ2luX2VjE", 35)
	r.Credentials.Expiration = Timestamp(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC))
	r.Provider = "oidc.circleci.com/org/0b3e0a5c-5c7e-4f6d-9a53-3f3b1d0c2a11"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		WriteResult(rec, NamespaceSTS, "AssumeRoleWithWebIdentity", "c0ffee00-0000-4000-8000-000000000000", &r)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
