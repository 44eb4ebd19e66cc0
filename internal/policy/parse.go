package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
)

// Kind is the kind of policy document; validation rules and quotas differ.
type Kind int

const (
	// Trust is a role trust policy (AssumeRolePolicyDocument).
	Trust Kind = iota
	// Identity is an inline role policy (PutRolePolicy).
	Identity
	// Managed is a customer managed policy (CreatePolicy).
	Managed
	// Session is a session policy passed to AssumeRole*.
	Session
)

func (k Kind) String() string {
	switch k {
	case Trust:
		return "trust policy"
	case Identity:
		return "identity policy"
	case Managed:
		return "managed policy"
	case Session:
		return "session policy"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Quotas (non-whitespace characters, see Size) and raw-length limits.
const (
	MaxDocumentLength     = 131072 // raw characters, any kind (IAM model)
	TrustPolicyMaxSize    = 2048   // ACLSizePerRole default quota
	ManagedPolicyMaxSize  = 6144   // PolicySize
	InlinePolicyMaxTotal  = 10240  // all inline policies of one role together; enforced by the caller
	SessionPolicyMaxChars = 2048   // plain-text session policy (STS model)
	maxDepth              = 32     // JSON nesting; real policies use at most 5
)

var (
	errInvalidJSON = awserr.New(awserr.CodeMalformedPolicy, 400, "This policy contains invalid Json")
	errSyntax      = awserr.New(awserr.CodeMalformedPolicy, 400, "Syntax errors in policy.")
)

// Size returns the number of non-whitespace characters of doc, the measure
// AWS applies to policy quotas.
func Size(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

// Parse validates doc as a policy of the given kind and compiles it. Errors
// are *awserr.Error: MalformedPolicyDocument (400), LimitExceeded (409) for
// the trust and managed quotas, ValidationError (400) for the raw length and
// character set limits of the API model. Stored documents are loaded with
// Parse; a document being written goes through ParseNew.
func Parse(doc string, kind Kind) (*Policy, error) {
	return parse(doc, kind, false)
}

// ParseNew is Parse for an identity or managed policy being written
// (PutRolePolicy, CreatePolicy): it first applies IAM's phased document
// checks (see checkIAM), whose messages AWS returns. Like AWS, keyless does
// not apply them again to documents it already stores, so a document written
// before a check existed keeps loading.
func ParseNew(doc string, kind Kind) (*Policy, error) {
	return parse(doc, kind, true)
}

func parse(doc string, kind Kind, write bool) (*Policy, error) {
	if err := checkLimits(doc, kind); err != nil {
		return nil, err
	}
	root, err := decode(doc)
	if err != nil {
		return nil, err
	}
	if write {
		if err := checkIAM(root, kind); err != nil {
			return nil, err
		}
	}
	return compile(root, kind)
}

func checkLimits(doc string, kind Kind) error {
	param, max := "policyDocument", MaxDocumentLength
	if kind == Session {
		param, max = "policy", SessionPolicyMaxChars
	}
	n := 0
	for _, r := range doc {
		n++
		if !(r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xFF)) {
			return awserr.Newf(awserr.CodeValidation, 400,
				"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+", param)
		}
		if n > max {
			return awserr.Newf(awserr.CodeValidation, 400,
				"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", param, max)
		}
	}
	if n == 0 {
		return awserr.Newf(awserr.CodeValidation, 400,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", param)
	}
	switch size := Size(doc); {
	case kind == Trust && size > TrustPolicyMaxSize:
		return awserr.Newf(awserr.CodeLimitExceeded, 409, "Cannot exceed quota for ACLSizePerRole: %d", TrustPolicyMaxSize)
	case kind == Managed && size > ManagedPolicyMaxSize:
		return awserr.Newf(awserr.CodeLimitExceeded, 409, "Cannot exceed quota for PolicySize: %d", ManagedPolicyMaxSize)
	}
	return nil
}

// node is a decoded JSON value that, unlike map[string]any, keeps member
// order and lets us reject duplicate keys.
type node struct {
	kind  nodeKind
	s     string // string, number text, "true"/"false"
	items []*node
	keys  []string
	vals  []*node
}

type nodeKind uint8

const (
	nString nodeKind = iota
	nNumber
	nBool
	nNull
	nArray
	nObject
)

var errDuplicate = errors.New("duplicate key")

func decode(doc string) (*node, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	root, err := decodeValue(dec, 0)
	if err != nil {
		if errors.Is(err, errDuplicate) || errors.Is(err, errTooDeep) {
			return nil, errSyntax.Wrap(err)
		}
		return nil, errInvalidJSON.Wrap(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errInvalidJSON.Wrap(errors.New("trailing data after the document"))
	}
	return root, nil
}

var errTooDeep = errors.New("document nested too deeply")

func decodeValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		return &node{kind: nString, s: t}, nil
	case json.Number:
		return &node{kind: nNumber, s: t.String()}, nil
	case bool:
		return &node{kind: nBool, s: fmt.Sprint(t)}, nil
	case nil:
		return &node{kind: nNull}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &node{kind: nArray}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			_, err := dec.Token()
			return n, err
		case '{':
			n := &node{kind: nObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				if seen[k] {
					return nil, fmt.Errorf("%w %q", errDuplicate, k)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				seen[k] = true
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
