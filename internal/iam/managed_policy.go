package iam

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// xmlPolicy is the Policy shape.
type xmlPolicy struct {
	PolicyName                    string      `xml:"PolicyName"`
	PolicyID                      string      `xml:"PolicyId"`
	Arn                           string      `xml:"Arn"`
	Path                          string      `xml:"Path"`
	DefaultVersionID              string      `xml:"DefaultVersionId"`
	AttachmentCount               int         `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int         `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool        `xml:"IsAttachable"`
	Description                   string      `xml:"Description,omitempty"`
	CreateDate                    string      `xml:"CreateDate"`
	UpdateDate                    string      `xml:"UpdateDate"`
	Tags                          *xmlTagList `xml:"Tags,omitempty"`
}

// policyView says which call a Policy shape answers; AWS returns different
// subsets of it (moto's aws_verified test_iam_response_attributes shows them).
type policyView uint8

const (
	policyCreate policyView = iota // Tags only when given, never Description
	policyGet                      // Description when set, Tags always (an empty list too)
	policyList                     // neither Description nor Tags
)

// xmlPolicyOf renders p for view.
func xmlPolicyOf(p store.ManagedPolicy, view policyView) xmlPolicy {
	x := xmlPolicy{
		PolicyName: p.Name, PolicyID: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionID: p.DefaultVersion,
		AttachmentCount: p.AttachmentCount, IsAttachable: true,
		CreateDate: awsquery.Timestamp(p.CreateDate), UpdateDate: awsquery.Timestamp(p.UpdateDate),
	}
	switch view {
	case policyCreate:
		if tags := xmlTags(p.Tags); tags != nil {
			x.Tags = &tags
		}
	case policyGet:
		x.Description = p.Description
		tags := xmlTags(p.Tags)
		if tags == nil {
			tags = xmlTagList{}
		}
		x.Tags = &tags
	}
	return x
}

func policyNotFound(policyARN string) string { return "Policy " + policyARN + " was not found." }

// checkPolicyPath validates the optional Path of a managed policy.
func checkPolicyPath(v *awsquery.Validator, c *awsquery.Call) string {
	if !c.Has("Path") {
		return "/"
	}
	p := c.Get("Path")
	if v.Length("Path", p, 1, 512) {
		v.Pattern("Path", p, rePolicyPath, patPolPath)
	}
	return p
}

type createPolicyResult struct {
	Policy xmlPolicy `xml:"Policy"`
}

func (s *Service) createPolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkPolicyName(&v, c)
	path := checkPolicyPath(&v, c)
	doc := checkDocument(&v, c, "PolicyDocument")
	desc := c.Get("Description")
	v.Length("Description", desc, 0, 1000)
	tags, err := parseTags(&v, c, false)
	if err != nil {
		return "", nil, err
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	if _, err := policy.ParseNew(doc, policy.Managed); err != nil {
		return "", nil, err
	}
	policyARN := arn.Policy(s.account, path, name)
	return policyARN, func(ctx context.Context) (any, error) {
		existing, err := s.store.ListPolicies(ctx)
		if err != nil {
			return nil, storeErr(err, "")
		}
		exists := alreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		for _, p := range existing {
			if p.ARN != awsManagedARN(p.Name) && strings.EqualFold(p.Name, name) {
				return nil, exists
			}
		}
		id, err := s.newID("ANPA")
		if err != nil {
			return nil, storeErr(err, "")
		}
		now := s.now().UTC()
		p := store.ManagedPolicy{ARN: policyARN, Name: name, Path: path, ID: id, Document: doc,
			Description: desc, Tags: tags, CreateDate: now, UpdateDate: now,
			DefaultVersion: "v1", LastVersion: 1, Versions: []store.PolicyVersion{{ID: "v1", Document: doc, CreateDate: now}}}
		if err := s.store.CreatePolicy(ctx, p); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) {
				return nil, exists.Wrap(err)
			}
			return nil, storeErr(err, "")
		}
		return createPolicyResult{Policy: xmlPolicyOf(p, policyCreate)}, nil
	}, nil
}

// policyTarget is the managed policy an action names by its PolicyArn
// parameter, the resource authorized. A policy of another account does not
// exist here; an AWS managed one keyless holds (awsManaged) can be read,
// not changed.
type policyTarget struct {
	s     *Service
	arn   string
	local bool
	read  bool // the action only reads (readPolicyActions)
}

// policyTarget validates the PolicyArn parameter.
func (s *Service) policyTarget(v *awsquery.Validator, c *awsquery.Call) (policyTarget, error) {
	policyARN := checkARN(v, c, "PolicyArn")
	if err := v.Err(); err != nil {
		return policyTarget{}, err
	}
	local, err := s.parsePolicyARN(policyARN)
	if err != nil {
		return policyTarget{}, err
	}
	return policyTarget{s: s, arn: policyARN, local: local, read: readPolicyActions["iam:"+c.Action]}, nil
}

// get reads the policy: called once authorized.
func (t policyTarget) get(ctx context.Context) (store.ManagedPolicy, error) {
	if !t.local {
		if t.read {
			if p, ok, err := t.s.awsManagedPolicy(ctx, t.arn); ok {
				return p, storeErr(err, policyNotFound(t.arn))
			}
		}
		return store.ManagedPolicy{}, noSuchEntity("%s", policyNotFound(t.arn))
	}
	p, err := t.s.store.GetPolicy(ctx, t.arn)
	if err != nil {
		return store.ManagedPolicy{}, storeErr(err, policyNotFound(t.arn))
	}
	return p, nil
}

// readPolicyActions may name an AWS managed policy.
var readPolicyActions = map[string]bool{
	"iam:GetPolicy": true, "iam:GetPolicyVersion": true, "iam:ListPolicyVersions": true, "iam:ListPolicyTags": true,
}

type getPolicyResult struct {
	Policy xmlPolicy `xml:"Policy"`
}

func (s *Service) getPolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return getPolicyResult{Policy: xmlPolicyOf(p, policyGet)}, nil
	}, nil
}

type listPoliciesResult struct {
	Policies    []xmlPolicy `xml:"Policies>member"`
	IsTruncated bool        `xml:"IsTruncated"`
	Marker      string      `xml:"Marker,omitempty"`
}

// checkEnum validates an optional enum parameter; Validator has no enum
// form, so the Coral message is built here and returned early.
func checkEnum(c *awsquery.Call, name string, values ...string) (string, error) {
	s := c.Get(name)
	if !c.Has(name) {
		return "", nil
	}
	for _, v := range values {
		if s == v {
			return s, nil
		}
	}
	return "", awserr.Newf(awserr.CodeValidation, http.StatusBadRequest,
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
		s, lowerFirst(name), strings.Join(values, ", "))
}

func (s *Service) listPolicies(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	scope, err := checkEnum(c, "Scope", "All", "AWS", "Local")
	if err != nil {
		return "", nil, err
	}
	if _, err := checkEnum(c, "PolicyUsageFilter", "PermissionsPolicy", "PermissionsBoundary"); err != nil {
		return "", nil, err
	}
	onlyAttached, _, err := c.Bool("OnlyAttached")
	if err != nil {
		return "", nil, err
	}
	prefix := checkPathPrefix(&v, c, rePolicyPath, patPolPath)
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	return "*", func(ctx context.Context) (any, error) {
		res := listPoliciesResult{Policies: []xmlPolicy{}}
		ps, err := s.store.ListPolicies(ctx)
		if err != nil {
			return nil, storeErr(err, "")
		}
		ps = filter(withAWSManaged(ps), func(p store.ManagedPolicy) bool {
			aws := strings.HasPrefix(p.ARN, "arn:aws:iam::aws:")
			return (scope != "AWS" || aws) && (scope != "Local" || !aws) &&
				strings.HasPrefix(p.Path, prefix) && (!onlyAttached || p.AttachmentCount > 0)
		})
		// An AWS managed policy and a local one may share a name: the ARN
		// keeps the paging key unique.
		got, next := paginate(ps, func(p store.ManagedPolicy) string { return strings.ToLower(p.Name) + " " + p.ARN }, pg)
		res.IsTruncated, res.Marker = next != "", next
		for _, p := range got {
			res.Policies = append(res.Policies, xmlPolicyOf(p, policyList))
		}
		return res, nil
	}, nil
}

func (s *Service) deletePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	pol, err := s.policyTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		inUse := deleteConflict("Cannot delete a policy attached to entities.")
		if p.AttachmentCount > 0 {
			return nil, inUse
		}
		if len(p.Versions) > 1 {
			return nil, deleteConflict("This policy has more than one version. Before you delete a policy, you must first delete all non-default versions.")
		}
		if err := s.store.DeletePolicy(ctx, p.ARN); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, inUse.Wrap(err)
			}
			return nil, storeErr(err, policyNotFound(p.ARN))
		}
		return nil, nil
	}, nil
}
