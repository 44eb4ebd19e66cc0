package sts

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
)

// packedLimit is the size, in compressed bytes, that PackedPolicySize is a
// percentage of. AWS does not publish its packing; this keeps the observable
// behaviour: a maximal plain-text session policy fits, while many long
// session tags overflow with PackedPolicyTooLarge.
const packedLimit = 2048

// packedSize returns the PackedPolicySize percentage for the session policy,
// policy ARNs and tags of a session, and ok=false when nothing was passed
// (AWS then omits the element).
func packedSize(policyDoc string, arns []string, tags []SessionTag) (pct int, ok bool, err error) {
	if policyDoc == "" && len(arns) == 0 && len(tags) == 0 {
		return 0, false, nil
	}
	var raw bytes.Buffer
	raw.WriteString(strings.Join(strings.Fields(policyDoc), ""))
	for _, a := range arns {
		raw.WriteString(a)
	}
	for _, t := range tags {
		raw.WriteString(t.Key)
		raw.WriteByte(0)
		raw.WriteString(t.Value)
	}
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	_, _ = w.Write(raw.Bytes())
	_ = w.Close()
	pct = (out.Len()*100 + packedLimit - 1) / packedLimit
	if pct > 100 {
		return pct, true, awserr.Newf(awserr.CodePackedPolicyTooLarge, http.StatusBadRequest,
			"Packed size of session policies and session tags exceeds the limit: %d%%", pct)
	}
	return pct, true, nil
}
