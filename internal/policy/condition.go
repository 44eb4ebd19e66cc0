package policy

import "strings"

// op is a positive condition operator; negated operators are expressed as
// their positive counterpart plus condition.neg.
type op uint8

const (
	opStringEquals op = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike // ArnEquals and ArnLike are the same operator in AWS
	opNull
)

type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type opInfo struct {
	op  op
	neg bool
}

// operators maps every AWS condition operator name (without the IfExists
// suffix and set qualifier) to its positive form. Names are case-sensitive,
// as AWS spells them.
var operators = map[string]opInfo{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

func (o op) family() family {
	switch {
	case o <= opStringLike:
		return famString
	case o <= opNumericGreaterThanEquals:
		return famNumeric
	case o <= opDateGreaterThanEquals:
		return famDate
	case o == opBool:
		return famBool
	case o == opBinaryEquals:
		return famBinary
	case o == opIPAddress:
		return famIP
	case o == opArnLike:
		return famArn
	}
	return famNull
}

type qualifier uint8

const (
	qualNone qualifier = iota
	qualForAnyValue
	qualForAllValues
)

// parseOperator splits "ForAllValues:StringLikeIfExists" into its parts.
func parseOperator(name string) (info opInfo, q qualifier, ifExists bool, ok bool) {
	base := name
	switch {
	case strings.HasPrefix(base, "ForAnyValue:"):
		q, base = qualForAnyValue, base[len("ForAnyValue:"):]
	case strings.HasPrefix(base, "ForAllValues:"):
		q, base = qualForAllValues, base[len("ForAllValues:"):]
	}
	if b, found := strings.CutSuffix(base, "IfExists"); found {
		base, ifExists = b, true
	}
	info, ok = operators[base]
	if ok && info.op == opNull && (ifExists || q != qualNone) {
		ok = false // Null takes neither IfExists nor a set qualifier
	}
	return info, q, ifExists, ok
}

// condition is one (operator, key, values) triple of a Condition block.
type condition struct {
	name     string // operator as written, e.g. "ForAnyValue:StringLike"
	op       op
	neg      bool
	qual     qualifier
	ifExists bool
	key      string // as written; matched case-insensitively
	values   []cvalue
}

// eval applies AWS's rules: a missing key makes a positive operator false
// and a negated one true; IfExists makes it true; ForAnyValue false;
// ForAllValues true. Present: OR across policy values; a negated operator is
// the NOR of its positive form; ForAnyValue/ForAllValues quantify over the
// request values.
func (c *condition) eval(ctx *Context) bool {
	vals, present := ctx.Get(c.key)
	if c.op == opNull {
		for i := range c.values {
			if v := &c.values[i]; v.ok && v.b == !present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.qual == qualForAllValues:
			return true
		case c.qual == qualForAnyValue:
			return false
		}
		return c.neg
	}
	switch c.qual {
	case qualForAnyValue:
		for _, v := range vals {
			if c.anyValue(v, ctx) != c.neg {
				return true
			}
		}
		return false
	case qualForAllValues:
		for _, v := range vals {
			if c.anyValue(v, ctx) == c.neg {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.anyValue(v, ctx) {
			return !c.neg
		}
	}
	return c.neg
}

// anyValue reports whether request value v matches any policy value under
// the positive operator.
func (c *condition) anyValue(v string, ctx *Context) bool {
	for i := range c.values {
		if c.values[i].match(c.op, v, ctx) {
			return true
		}
	}
	return false
}
