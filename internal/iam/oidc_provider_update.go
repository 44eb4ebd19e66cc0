package iam

import (
	"context"
	"slices"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// checkClientID validates the required ClientID parameter.
func checkClientID(v *awsquery.Validator, c *awsquery.Call) string {
	id, ok := required(v, c, "ClientID")
	if ok {
		v.Length("ClientID", id, 1, 255)
	}
	return id
}

// updateProvider runs fn on the stored provider and signals a change.
func (s *Service) updateProvider(ctx context.Context, providerARN, u string, fn func(*store.Provider) error) error {
	if err := s.store.UpdateProvider(ctx, u, fn); err != nil {
		return storeErr(err, providerNotFound(providerARN))
	}
	return nil
}

func (s *Service) addClientIDToOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := checkClientID(&v, c)
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		return nil, s.updateProvider(ctx, providerARN, u, func(p *store.Provider) error {
			if slices.Contains(p.ClientIDs, id) {
				return nil // idempotent, as in AWS
			}
			if len(p.ClientIDs) >= maxClientIDs {
				return limitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", maxClientIDs)
			}
			p.ClientIDs = append(p.ClientIDs, id)
			return nil
		})
	}, nil
}

func (s *Service) removeClientIDFromOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := checkClientID(&v, c)
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		return nil, s.updateProvider(ctx, providerARN, u, func(p *store.Provider) error {
			p.ClientIDs = slices.DeleteFunc(p.ClientIDs, func(x string) bool { return x == id })
			return nil
		})
	}, nil
}

func (s *Service) updateOpenIDConnectProviderThumbprint(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	list := c.List("ThumbprintList")
	v.Required("ThumbprintList", list != nil)
	providerARN, u, err := s.providerURL(&v, c)
	if err != nil {
		return "", nil, err
	}
	thumbs, err := parseThumbprints(list)
	if err != nil {
		return "", nil, err
	}
	return providerARN, func(ctx context.Context) (any, error) {
		if u == "" {
			return nil, noSuchEntity("%s", providerNotFound(providerARN))
		}
		return nil, s.updateProvider(ctx, providerARN, u, func(p *store.Provider) error {
			p.Thumbprints = thumbs // replaces, never merges
			return nil
		})
	}, nil
}

func (s *Service) tagOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	tags, err := parseTags(&v, c, true)
	if err != nil {
		return "", nil, err
	}
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		return nil, s.updateProvider(ctx, providerARN, u, func(p *store.Provider) error {
			merged := mergeTags(p.Tags, tags)
			if err := checkTagQuota(merged, "OpenIdConnectProvider"); err != nil {
				return err
			}
			p.Tags = merged
			return nil
		})
	}, nil
}

func (s *Service) untagOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	keys, err := parseTagKeys(&v, c)
	if err != nil {
		return "", nil, err
	}
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		return nil, s.updateProvider(ctx, providerARN, u, func(p *store.Provider) error {
			p.Tags = removeTags(p.Tags, keys)
			return nil
		})
	}, nil
}

// listTagsResult is the output of the List*Tags actions.
type listTagsResult struct {
	Tags        []xmlTag `xml:"Tags>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

// tagPage returns one page of tags, in their stored order.
func tagPage(tags []store.Tag, p page) listTagsResult {
	type indexed struct {
		key string
		tag store.Tag
	}
	items := make([]indexed, len(tags))
	for i, t := range tags {
		items[i] = indexed{key: fmt6(i), tag: t}
	}
	got, next := paginate(items, func(x indexed) string { return x.key }, p)
	res := listTagsResult{Tags: []xmlTag{}, IsTruncated: next != "", Marker: next}
	for _, x := range got {
		res.Tags = append(res.Tags, xmlTag{Key: x.tag.Key, Value: x.tag.Value})
	}
	return res
}

// fmt6 formats i as a fixed-width decimal so positions sort as strings.
func fmt6(i int) string {
	b := []byte("000000")
	for j := len(b) - 1; j >= 0 && i > 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

func (s *Service) listOpenIDConnectProviderTags(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		p, err := s.store.GetProvider(ctx, u)
		if err != nil {
			return nil, storeErr(err, providerNotFound(providerARN))
		}
		return tagPage(p.Tags, pg), nil
	}, nil
}
