package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/policy"
)

// statementView is one statement of a policy, as the role page shows it.
type statementView struct {
	Index      int
	Sid        string
	Effect     string
	Principal  []string // "Federated: arn:…", "AWS: *"
	NotPrinc   bool
	Actions    []string
	NotAction  bool
	Conditions []conditionView
}

// conditionView is one operator/key pair of a Condition block.
type conditionView struct {
	Operator, Key string
	Values        []string
}

// readablePolicy lays out a policy document for reading; the raw JSON is
// shown beside it, so a document it cannot lay out is still visible.
func readablePolicy(doc string) ([]statementView, error) {
	var d struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, err
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(d.Statement, &raw); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			return nil, err
		}
		raw = []map[string]json.RawMessage{one}
	}
	out := make([]statementView, 0, len(raw))
	for i, st := range raw {
		sv := statementView{Index: i + 1, Sid: str(st["Sid"]), Effect: str(st["Effect"])}
		p, ok := st["Principal"]
		if !ok {
			p, sv.NotPrinc = st["NotPrincipal"], true
		}
		sv.Principal = principals(p)
		a, ok := st["Action"]
		if !ok {
			a, sv.NotAction = st["NotAction"], true
		}
		sv.Actions = strs(a)
		var conds map[string]map[string]json.RawMessage
		_ = json.Unmarshal(st["Condition"], &conds)
		for _, op := range slices.Sorted(maps.Keys(conds)) {
			for _, k := range slices.Sorted(maps.Keys(conds[op])) {
				sv.Conditions = append(sv.Conditions, conditionView{Operator: op, Key: k, Values: strs(conds[op][k])})
			}
		}
		out = append(out, sv)
	}
	return out, nil
}

// str is a JSON string's value ("" for anything else).
func str(b json.RawMessage) string {
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}

// strs is a JSON value as strings: a string, an array, or any scalar as
// its JSON text.
func strs(b json.RawMessage) []string {
	if len(b) == 0 {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		list = []json.RawMessage{b}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, string(v))
		}
	}
	return out
}

func principals(b json.RawMessage) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return strs(b) // "*"
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		for _, v := range strs(m[k]) {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// prettyJSON indents a JSON document (as is when it is not JSON).
func prettyJSON(doc string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(doc), "", "  ") != nil {
		return doc
	}
	return b.String()
}

// decisionView is a decision's page: the record, its claims and the trace
// as a tree.
type decisionView struct {
	decision.Record
	ClaimRows []claimRow
	Policies  []policyView
}

type claimRow struct{ Name, Value string }

// policyView is one policy of a trace.
type policyView struct {
	Name, Decision string
	Statements     []statementTraceView
}

// statementTraceView is one statement of a trace: how each element
// matched and, for each condition, what the policy expected against what
// the request had.
type statementTraceView struct {
	policy.StatementTrace
	Closest bool
}

func newDecisionView(d decision.Record) decisionView {
	v := decisionView{Record: d}
	for _, k := range slices.Sorted(maps.Keys(d.Claims)) {
		var val string
		switch x := d.Claims[k].(type) {
		case string:
			val = x
		default:
			b, _ := json.Marshal(x)
			val = string(b)
		}
		v.ClaimRows = append(v.ClaimRows, claimRow{Name: k, Value: val})
	}
	if d.Trace != nil {
		for _, p := range d.Trace.Policies {
			pv := policyView{Name: p.Name, Decision: p.Decision.String()}
			for _, st := range p.Statements {
				at := fmt.Sprintf("%s, statement %d", p.Name, st.Index)
				cs := d.Trace.ClosestStatement
				pv.Statements = append(pv.Statements, statementTraceView{StatementTrace: st,
					Closest: cs == at || strings.HasPrefix(cs, at+" (")})
			}
			v.Policies = append(v.Policies, pv)
		}
	}
	return v
}

// shortRole is a role ARN's name part ("" for none).
func shortRole(roleARN string) string {
	_, res, ok := strings.Cut(roleARN, ":role/")
	if !ok {
		return roleARN
	}
	return res[strings.LastIndexByte(res, '/')+1:]
}

// senderMessage is the message of an error the visitor caused (4xx).
func senderMessage(err error) (string, bool) {
	e := awserr.As(err)
	if e == nil || !e.Sender() {
		return "", false
	}
	return e.Message, true
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
