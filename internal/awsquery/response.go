package awsquery

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

// XML namespaces of the services keyless serves.
const (
	NamespaceSTS = "https://sts.amazonaws.com/doc/2011-06-15/"
	NamespaceIAM = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// Timestamp formats t as AWS does in XML: ISO 8601, UTC, with Z.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// WriteResult writes <ActionResponse><ActionResult>result</ActionResult>
// <ResponseMetadata/></ActionResponse>. A nil result writes no Result
// element (actions without an output shape). result is encoded with
// encoding/xml, so its fields carry xml tags, unless it is an XMLAppender.
func WriteResult(w http.ResponseWriter, namespace, action, requestID string, result any) {
	x := xmlBufs.Get().(*xmlBuf)
	defer x.release()
	buf := &x.buf
	// Written piece by piece: a concatenation with the action's name
	// would allocate a string per response.
	b := buf.AvailableBuffer()
	b = append(b, '<')
	b = append(b, action...)
	b = append(b, `Response xmlns="`...)
	b = append(b, namespace...)
	b = append(b, `">`...)
	if a, ok := result.(XMLAppender); ok {
		b = append(b, '<')
		b = append(b, action...)
		b = append(b, `Result>`...)
		b = a.AppendXML(b)
		b = append(b, `</`...)
		b = append(b, action...)
		b = append(b, `Result>`...)
		buf.Write(b)
	} else if result != nil {
		buf.Write(b)
		enc := xml.NewEncoder(x.bw) // uses x.bw as is: no 4 KiB buffer per response
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			WriteError(w, namespace, requestID, err)
			return
		}
		_ = enc.Flush()
	} else {
		buf.Write(b)
	}
	b = buf.AvailableBuffer()
	b = append(b, `<ResponseMetadata><RequestId>`...)
	b = appendEscaped(b, requestID)
	b = append(b, `</RequestId></ResponseMetadata></`...)
	b = append(b, action...)
	b = append(b, `Response>`...)
	buf.Write(b)
	writeXML(w, http.StatusOK, requestID, buf.Bytes())
}

// xmlBuf is a response buffer with the bufio.Writer xml.Encoder needs,
// reused across responses.
type xmlBuf struct {
	buf bytes.Buffer
	bw  *bufio.Writer
}

var xmlBufs = sync.Pool{New: func() any {
	x := &xmlBuf{}
	x.bw = bufio.NewWriterSize(&x.buf, 4096)
	return x
}}

// release returns x to the pool unless it grew large (a big ListRoles).
func (x *xmlBuf) release() {
	if x.buf.Cap() > 64<<10 {
		return
	}
	x.buf.Reset()
	x.bw.Reset(&x.buf) // drops anything an encoding error left unflushed
	xmlBufs.Put(x)
}

// WriteError renders err as AWS's ErrorResponse. This is the only place
// errors become response bodies: an *awserr.Error keeps its code, status
// and public message; anything else is an InternalFailure whose text is
// not sent.
func WriteError(w http.ResponseWriter, namespace, requestID string, err error) {
	e := awserr.From(err)
	typ := "Sender"
	if !e.Sender() {
		typ = "Receiver"
	}
	var buf bytes.Buffer
	buf.WriteString(`<ErrorResponse xmlns="` + namespace + `"><Error><Type>` + typ + `</Type><Code>`)
	xml.EscapeText(&buf, []byte(e.Code))
	buf.WriteString(`</Code><Message>`)
	xml.EscapeText(&buf, []byte(e.Message))
	buf.WriteString(`</Message></Error><RequestId>`)
	xml.EscapeText(&buf, []byte(requestID))
	buf.WriteString(`</RequestId></ErrorResponse>`)
	writeXML(w, e.Status, requestID, buf.Bytes())
}

func writeXML(w http.ResponseWriter, status int, requestID string, body []byte) {
	// Keys are written in their canonical form, as Header.Set would store
	// them, without canonicalizing them again on every response.
	h := w.Header()
	// One allocation for the four values instead of one each.
	v := make([]string, 4)
	v[0], v[1], v[2], v[3] = "text/xml", strconv.Itoa(len(body)), requestID, httpDate(time.Now())
	h["Content-Type"] = v[0:1:1]
	h["Content-Length"] = v[1:2:2]
	h["X-Amzn-Requestid"] = v[2:3:3]
	h["Date"] = v[3:4:4]
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// httpDate formats now as the Date header, once per second rather than
// once per response.
func httpDate(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &cachedDate{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}

type cachedDate struct {
	sec  int64
	text string
}

var lastDate atomic.Pointer[cachedDate]
