package iam

import (
	"context"
	"strconv"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// maxPolicyVersions is IAM's quota of versions per managed policy.
const maxPolicyVersions = 5

// xmlPolicyVersion is the PolicyVersion shape. Document is present only in
// GetPolicyVersion's answer.
type xmlPolicyVersion struct {
	Document         string `xml:"Document,omitempty"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

func xmlVersionOf(p store.ManagedPolicy, v store.PolicyVersion, withDoc bool) xmlPolicyVersion {
	x := xmlPolicyVersion{VersionID: v.ID, IsDefaultVersion: v.ID == p.DefaultVersion, CreateDate: awsquery.Timestamp(v.CreateDate)}
	if withDoc {
		x.Document = URLEncodePolicy(v.Document)
	}
	return x
}

func versionNotFound(policyARN, id string) *awserr.Error {
	return noSuchEntity("Policy %s version %s does not exist or is not attachable.", policyARN, id)
}

// checkVersionID validates the required VersionId parameter.
func checkVersionID(v *awsquery.Validator, c *awsquery.Call) string {
	id, ok := required(v, c, "VersionId")
	if ok {
		v.Pattern("VersionId", id, reVersionID, patVersionID)
	}
	return id
}

func findVersion(p store.ManagedPolicy, id string) (store.PolicyVersion, bool) {
	for _, v := range p.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return store.PolicyVersion{}, false
}

type getPolicyVersionResult struct {
	PolicyVersion xmlPolicyVersion `xml:"PolicyVersion"`
}

func (s *Service) getPolicyVersion(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := checkVersionID(&v, c)
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		pv, ok := findVersion(p, id)
		if !ok {
			return nil, versionNotFound(p.ARN, id)
		}
		return getPolicyVersionResult{PolicyVersion: xmlVersionOf(p, pv, true)}, nil
	}, nil
}

type createPolicyVersionResult struct {
	PolicyVersion xmlPolicyVersion `xml:"PolicyVersion"`
}

// updatePolicy runs fn on the stored policy and signals a change.
func (s *Service) updatePolicy(ctx context.Context, policyARN string, fn func(*store.ManagedPolicy) error) error {
	if err := s.store.UpdatePolicy(ctx, policyARN, fn); err != nil {
		return storeErr(err, policyNotFound(policyARN))
	}
	return nil
}

func (s *Service) createPolicyVersion(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	doc := checkDocument(&v, c, "PolicyDocument")
	setDefault, _, err := c.Bool("SetAsDefault")
	if err != nil {
		return "", nil, err
	}
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := policy.Parse(doc, policy.Managed); err != nil {
			return nil, err
		}
		var created store.PolicyVersion
		err = s.updatePolicy(ctx, p.ARN, func(mp *store.ManagedPolicy) error {
			if len(mp.Versions) >= maxPolicyVersions {
				return limitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
			}
			now := s.now().UTC()
			mp.LastVersion++
			created = store.PolicyVersion{ID: "v" + strconv.Itoa(mp.LastVersion), Document: doc, CreateDate: now}
			mp.Versions = append(mp.Versions, created)
			if setDefault {
				mp.DefaultVersion, mp.Document, mp.UpdateDate = created.ID, doc, now
			}
			p = *mp
			return nil
		})
		if err != nil {
			return nil, err
		}
		return createPolicyVersionResult{PolicyVersion: xmlVersionOf(p, created, false)}, nil
	}, nil
}

type listPolicyVersionsResult struct {
	Versions    []xmlPolicyVersion `xml:"Versions>member"`
	IsTruncated bool               `xml:"IsTruncated"`
	Marker      string             `xml:"Marker,omitempty"`
}

// ListPolicyVersions returns the newest version first, as IAM does.
func (s *Service) listPolicyVersions(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		versions := make([]store.PolicyVersion, len(p.Versions))
		for i, pv := range p.Versions {
			versions[len(p.Versions)-1-i] = pv
		}
		pos := make(map[string]string, len(versions))
		for i, pv := range versions {
			pos[pv.ID] = fmt6(i)
		}
		got, next := paginate(versions, func(pv store.PolicyVersion) string { return pos[pv.ID] }, pg)
		res := listPolicyVersionsResult{Versions: make([]xmlPolicyVersion, 0, len(got)), IsTruncated: next != "", Marker: next}
		for _, pv := range got {
			res.Versions = append(res.Versions, xmlVersionOf(p, pv, false))
		}
		return res, nil
	}, nil
}

func (s *Service) deletePolicyVersion(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := checkVersionID(&v, c)
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.updatePolicy(ctx, p.ARN, func(mp *store.ManagedPolicy) error {
			if _, ok := findVersion(*mp, id); !ok {
				return versionNotFound(mp.ARN, id)
			}
			if id == mp.DefaultVersion {
				return deleteConflict("Cannot delete the default version of a policy.")
			}
			mp.Versions = filter(mp.Versions, func(pv store.PolicyVersion) bool { return pv.ID != id })
			return nil
		})
	}, nil
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := checkVersionID(&v, c)
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.updatePolicy(ctx, p.ARN, func(mp *store.ManagedPolicy) error {
			pv, ok := findVersion(*mp, id)
			if !ok {
				return versionNotFound(mp.ARN, id)
			}
			mp.DefaultVersion, mp.Document, mp.UpdateDate = pv.ID, pv.Document, s.now().UTC()
			return nil
		})
	}, nil
}

func (s *Service) tagPolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	tags, err := parseTags(&v, c, true)
	if err != nil {
		return "", nil, err
	}
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.updatePolicy(ctx, p.ARN, func(mp *store.ManagedPolicy) error {
			merged := mergeTags(mp.Tags, tags)
			if err := checkTagQuota(merged, "Policy"); err != nil {
				return err
			}
			mp.Tags = merged
			return nil
		})
	}, nil
}

func (s *Service) untagPolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	keys, err := parseTagKeys(&v, c)
	if err != nil {
		return "", nil, err
	}
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return nil, s.updatePolicy(ctx, p.ARN, func(mp *store.ManagedPolicy) error {
			mp.Tags = removeTags(mp.Tags, keys)
			return nil
		})
	}, nil
}

func (s *Service) listPolicyTags(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return tagPage(p.Tags, pg), nil
	}, nil
}
