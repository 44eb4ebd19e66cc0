package iam

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sort"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

// URLEncodePolicy percent-encodes a policy document the way IAM returns
// policy documents: every byte except the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~) becomes %XX, so a space is %20 and botocore's
// urllib.parse.unquote gives the original text back. It is applied exactly
// once over the stored text.
func URLEncodePolicy(doc string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// xmlTag is the Tag shape.
type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// xmlTagList is a Tags member. encoding/xml writes an empty <Tags></Tags>
// for an empty "Tags>member" slice even with omitempty; AWS omits Tags
// when an entity has none (CreateRole, GetRole, CreatePolicy, GetOpenIDConnectProvider),
// so the list marshals itself and a Tags,omitempty field of this type is
// left out when empty.
type xmlTagList []xmlTag

// MarshalXML writes <Tags><member>…</member>…</Tags>.
func (l xmlTagList) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(struct {
		Member []xmlTag `xml:"member"`
	}{l}, start)
}

func xmlTags(tags []store.Tag) xmlTagList {
	if len(tags) == 0 {
		return nil
	}
	out := make(xmlTagList, len(tags))
	for i, t := range tags {
		out[i] = xmlTag{Key: t.Key, Value: t.Value}
	}
	return out
}

// mergeTags adds or overwrites tags by key (keys compare case-insensitively,
// as IAM treats them).
func mergeTags(have, add []store.Tag) []store.Tag {
	out := append([]store.Tag(nil), have...)
next:
	for _, t := range add {
		for i := range out {
			if strings.EqualFold(out[i].Key, t.Key) {
				out[i] = t
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

func removeTags(have []store.Tag, keys []string) []store.Tag {
	out := make([]store.Tag, 0, len(have))
next:
	for _, t := range have {
		for _, k := range keys {
			if strings.EqualFold(t.Key, k) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// maxTags is IAM's per-entity tag quota.
const maxTags = 50

func checkTagQuota(tags []store.Tag, entity string) error {
	if len(tags) > maxTags {
		return limitExceeded("Cannot exceed quota for TagsPer%s: %d", entity, maxTags)
	}
	return nil
}

// page is the pagination state of a List* call: the decoded Marker (the
// sort key of the first item to return) and MaxItems.
type page struct {
	start    string
	hasStart bool
	max      int
}

const defaultMaxItems = 100

func decodeMarker(marker string, max int) (page, error) {
	p := page{max: max}
	if p.max == 0 {
		p.max = defaultMaxItems
	}
	if marker == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(marker)
	if err != nil {
		return page{}, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "Invalid Marker.").Wrap(err)
	}
	p.start, p.hasStart = string(b), true
	return p, nil
}

// paginate sorts items by key and returns the page starting at the
// marker's key (or the next key after it, if that item is gone), plus the
// marker for the next page ("" when this is the last page).
func paginate[T any](items []T, key func(T) string, p page) (out []T, next string) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	i := 0
	if p.hasStart {
		i = sort.Search(len(items), func(i int) bool { return key(items[i]) >= p.start })
	}
	end := i + p.max
	if end >= len(items) {
		return items[i:], ""
	}
	return items[i:end], base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))
}
