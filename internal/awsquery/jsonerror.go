package awsquery

import (
	"encoding/json"
	"net/http"

	"github.com/keylessci/keyless/internal/awserr"
)

// WriteJSONError renders err for keyless's JSON endpoints (the admin API
// and the issuers' documents) as {"code": …, "message": …}, the one JSON
// twin of WriteError: an *awserr.Error keeps its code, status and public
// message; anything else is an InternalFailure whose text is not sent. An
// error is never cached (Cache-Control: no-store).
func WriteJSONError(w http.ResponseWriter, err error) {
	e := awserr.From(err)
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Message}) // two strings always encode
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
