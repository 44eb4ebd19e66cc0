package testkit

import "testing"

// External skips t in the fast loop (go test -short): the test runs an
// external program — a client such as the aws CLI or boto3, a freshly built
// keyless binary, a database — and belongs to the full loop (go test ./...,
// .ci/run). what names the program.
func External(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: runs %s (full loop only)", what)
	}
}
