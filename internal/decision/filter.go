package decision

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/store"
)

// ParseFilter reads a query of the log from URL parameters, as the admin
// API (GET /_keyless/decisions) and the console's decision stream take
// them: role (name or ARN), provider (URL or ARN), decision (allow or
// deny), since and until (ParseTime), subject, limit (1 to 1000; 0 when
// absent, for the caller's default) and cursor (Cursor). An unknown
// parameter or a bad value is an error whose text the caller may be shown.
func ParseFilter(q url.Values, account string, now time.Time) (store.DecisionFilter, error) {
	for k := range q {
		switch k {
		case "role", "provider", "decision", "since", "until", "subject", "limit", "cursor":
		default:
			return store.DecisionFilter{}, errors.New("unknown parameter " + strconv.Quote(k) +
				": use role, provider, decision, since, until, subject, limit or cursor")
		}
	}
	f := store.DecisionFilter{Subject: strings.TrimSpace(q.Get("subject"))}
	if role := strings.TrimSpace(q.Get("role")); strings.HasPrefix(role, "arn:") {
		f.RoleARN = role
	} else {
		f.RoleName = role
	}
	if p := strings.TrimSpace(q.Get("provider")); p != "" {
		if !strings.HasPrefix(p, "arn:") {
			p = arn.OIDCProvider(account, strings.TrimPrefix(p, "https://"))
		}
		f.Provider = p
	}
	switch d := q.Get("decision"); d {
	case "", Allow, Deny:
		f.Decision = d
	default:
		return f, errors.New("decision must be allow or deny")
	}
	var err error
	if f.Since, err = ParseTime(strings.TrimSpace(q.Get("since")), now); err != nil {
		return f, errors.New("since: " + err.Error())
	}
	if f.Until, err = ParseTime(strings.TrimSpace(q.Get("until")), now); err != nil {
		return f, errors.New("until: " + err.Error())
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return f, errors.New("limit must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		if f.After, err = ParseCursor(c); err != nil {
			return f, errors.New("cursor: not one this server returned")
		}
	}
	return f, nil
}
