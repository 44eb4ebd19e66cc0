package awsquery

import (
	"errors"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxParams is how many parameters a query string or a body may carry:
// net/url's default limit, kept when url.ParseQuery was replaced by
// parseForm.
const maxParams = 10000

var errTooManyParams = errors.New("number of URL query parameters exceeded limit")

// param is one name=value pair of a query string or form body, unescaped.
type param struct{ key, value string }

// parseForm appends the pairs of a query string or form body to dst, in the
// order they were sent. It accepts and refuses what url.ParseQuery does (a
// test holds it to that), but builds no map: an exchange reads a handful of
// parameters, and a map with a slice per value cost more than the reading.
// Names and values that need no unescaping are substrings of s.
func parseForm(dst []param, s string) ([]param, error) {
	n := strings.Count(s, "&") + 1
	if n > maxParams {
		return dst, errTooManyParams
	}
	if s != "" {
		dst = slices.Grow(dst, n)
	}
	var err error
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if strings.IndexByte(pair, ';') >= 0 {
			err = errors.New("invalid semicolon separator in query")
			continue
		}
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err1 := unescape(key)
		if err1 == nil {
			value, err1 = unescape(value)
		}
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		dst = append(dst, param{key, value})
	}
	return dst, err
}

// unescape is url.QueryUnescape, without its byte-by-byte scan when there is
// nothing to unescape (a web-identity token is a kilobyte of base64url).
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// lookup returns the index of the first pair named name, -1 if none.
func lookup(params []param, name string) int {
	for i := range params {
		if params[i].key == name {
			return i
		}
	}
	return -1
}

type indexedParam struct {
	n     int
	key   string
	value string
}

// indexed finds the parameters named name.member.N+suffix (or .list.N) and
// returns them sorted by N, each name once with its first value.
func indexed(params []param, name, suffix string) []indexedParam {
	var out []indexedParam
	for _, p := range params {
		rest, ok := strings.CutPrefix(p.key, name)
		if !ok {
			continue
		}
		if rest, ok = strings.CutPrefix(rest, "."); !ok {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "member."); ok {
			rest = r
		} else if r, ok := strings.CutPrefix(rest, "list."); ok {
			rest = r
		} else {
			continue
		}
		num, ok := strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		out = append(out, indexedParam{n: n, key: p.key, value: p.value})
	}
	// Stable, so that of a name sent twice the first value stays first.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n < out[j].n
		}
		return out[i].key < out[j].key
	})
	return slices.CompactFunc(out, func(a, b indexedParam) bool { return a.key == b.key })
}
