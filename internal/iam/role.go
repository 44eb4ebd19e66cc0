package iam

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// Role defaults and limits (IAM model).
const (
	defaultMaxSession = 3600
	minMaxSession     = 3600
	maxMaxSession     = 43200
)

// xmlRole is the Role shape. Which members appear depends on the action
// (see roleView).
type xmlRole struct {
	Path                     string       `xml:"Path"`
	RoleName                 string       `xml:"RoleName"`
	RoleID                   string       `xml:"RoleId"`
	Arn                      string       `xml:"Arn"`
	CreateDate               string       `xml:"CreateDate"`
	AssumeRolePolicyDocument string       `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string       `xml:"Description,omitempty"`
	MaxSessionDuration       *int         `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *xmlBoundary `xml:"PermissionsBoundary,omitempty"`
	Tags                     xmlTagList   `xml:"Tags,omitempty"`
	RoleLastUsed             *xmlLastUsed `xml:"RoleLastUsed,omitempty"`
}

type xmlBoundary struct {
	PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
}

type xmlLastUsed struct {
	LastUsedDate string `xml:"LastUsedDate,omitempty"`
	Region       string `xml:"Region,omitempty"`
}

// roleView selects the members real AWS returns per action: CreateRole has
// neither MaxSessionDuration nor RoleLastUsed; GetRole has both (an empty
// RoleLastUsed when never used); ListRoles has MaxSessionDuration but no
// RoleLastUsed, Tags or PermissionsBoundary.
type roleView int

const (
	viewCreate roleView = iota
	viewGet
	viewList
)

func (s *Service) xmlRole(r store.Role, view roleView) xmlRole {
	x := xmlRole{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleID:                   r.ID,
		Arn:                      arn.Role(s.account, r.Path, r.Name),
		CreateDate:               awsquery.Timestamp(r.CreateDate),
		AssumeRolePolicyDocument: URLEncodePolicy(r.TrustPolicy),
		Description:              r.Description,
	}
	if view != viewList {
		x.Tags = xmlTags(r.Tags)
		if r.PermissionsBoundary != "" {
			x.PermissionsBoundary = &xmlBoundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: r.PermissionsBoundary}
		}
	}
	if view != viewCreate {
		d := r.MaxSessionDuration
		if d == 0 {
			d = defaultMaxSession
		}
		x.MaxSessionDuration = &d
	}
	if view == viewGet {
		x.RoleLastUsed = &xmlLastUsed{}
		if !r.LastUsed.IsZero() {
			x.RoleLastUsed = &xmlLastUsed{LastUsedDate: awsquery.Timestamp(r.LastUsed), Region: r.LastUsedRegion}
		}
	}
	return x
}

func roleNotFound(name string) string { return "The role with name " + name + " cannot be found." }

// roleTarget is the role an action names, read before authorization: its
// ARN is the resource authorized (path-less when the role does not exist,
// so existence is not revealed to a caller who may not act on it).
type roleTarget struct {
	arn     string
	role    store.Role
	missing string // NoSuchEntity message when the role does not exist
}

// get returns the role, or NoSuchEntity when it does not exist: called once
// authorized.
func (t roleTarget) get() (store.Role, error) {
	if t.missing != "" {
		return store.Role{}, noSuchEntity("%s", t.missing)
	}
	return t.role, nil
}

func (s *Service) roleTarget(ctx context.Context, name string) (roleTarget, error) {
	r, err := s.store.GetRole(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return roleTarget{arn: arn.Role(s.account, "/", name), missing: roleNotFound(name)}, nil
	}
	if err != nil {
		return roleTarget{}, storeErr(err, roleNotFound(name))
	}
	return roleTarget{arn: arn.Role(s.account, r.Path, r.Name), role: r}, nil
}

// checkRolePath validates the optional Path of a role and defaults it.
func checkRolePath(v *awsquery.Validator, c *awsquery.Call) string {
	if !c.Has("Path") {
		return "/"
	}
	p := c.Get("Path")
	if v.Length("Path", p, 1, 512) {
		v.Pattern("Path", p, reRolePath, patRolePath)
	}
	return p
}

func checkRoleDescription(v *awsquery.Validator, c *awsquery.Call) string {
	d := c.Get("Description")
	if v.Length("Description", d, 0, 1000) {
		v.Pattern("Description", d, reRoleDesc, patRoleDesc)
	}
	return d
}

// checkMaxSession validates the optional MaxSessionDuration.
func checkMaxSession(v *awsquery.Validator, c *awsquery.Call) (int, bool, error) {
	d, ok, err := c.Int("MaxSessionDuration")
	if err != nil {
		return 0, false, err
	}
	if ok {
		v.Range("MaxSessionDuration", d, minMaxSession, maxMaxSession)
	}
	return d, ok, nil
}

type createRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func (s *Service) createRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	doc := checkDocument(&v, c, "AssumeRolePolicyDocument")
	path := checkRolePath(&v, c)
	desc := checkRoleDescription(&v, c)
	maxSession, hasMax, err := checkMaxSession(&v, c)
	if err != nil {
		return "", nil, err
	}
	if !hasMax {
		maxSession = defaultMaxSession
	}
	boundary := c.Get("PermissionsBoundary")
	if c.Has("PermissionsBoundary") {
		v.Length("PermissionsBoundary", boundary, 20, 2048)
	}
	tags, err := parseTags(&v, c, false)
	if err != nil {
		return "", nil, err
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	if err := checkTrustPolicy(doc); err != nil {
		return "", nil, err
	}
	roleARN := arn.Role(s.account, path, name)
	return roleARN, func(ctx context.Context) (any, error) {
		if boundary != "" {
			if err := s.checkBoundary(ctx, boundary); err != nil {
				return nil, err
			}
		}
		bound, err := s.bindTrust(ctx, doc)
		if err != nil {
			return nil, err
		}
		id, err := s.newID("AROA")
		if err != nil {
			return nil, storeErr(err, "")
		}
		r := store.Role{
			Name: name, Path: path, ID: id, TrustPolicy: bound, Description: desc,
			MaxSessionDuration: maxSession, PermissionsBoundary: boundary, Tags: tags,
			CreateDate: s.now().UTC(),
		}
		if err := s.store.CreateRole(ctx, r); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) {
				return nil, alreadyExists("Role with name %s already exists.", name).Wrap(err)
			}
			return nil, storeErr(err, "")
		}
		r.TrustPolicy = doc // every role it names exists: shown as given
		return createRoleResult{Role: s.xmlRole(r, viewCreate)}, nil
	}, nil
}

// checkBoundary checks that a permissions boundary names a managed policy
// that exists here.
func (s *Service) checkBoundary(ctx context.Context, boundary string) error {
	if _, err := s.parsePolicyARN(boundary); err != nil {
		return err
	}
	if _, ok, err := s.awsManagedPolicy(ctx, boundary); ok {
		return storeErr(err, "Scope ARN: "+boundary+" does not exist or is not attachable.")
	}
	if _, err := s.store.GetPolicy(ctx, boundary); err != nil {
		return storeErr(err, "Scope ARN: "+boundary+" does not exist or is not attachable.")
	}
	return nil
}

type getRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func (s *Service) getRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		r, err := role.get()
		if err != nil {
			return nil, err
		}
		if r, err = s.showRole(ctx, r); err != nil {
			return nil, err
		}
		return getRoleResult{Role: s.xmlRole(r, viewGet)}, nil
	}, nil
}

type listRolesResult struct {
	Roles       []xmlRole `xml:"Roles>member"`
	IsTruncated bool      `xml:"IsTruncated"`
	Marker      string    `xml:"Marker,omitempty"`
}

func (s *Service) listRoles(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	prefix := checkPathPrefix(&v, c, rePathPrefix, patPrefix)
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	return "*", func(ctx context.Context) (any, error) {
		roles, err := s.store.ListRoles(ctx)
		if err != nil {
			return nil, storeErr(err, "")
		}
		roles = filter(roles, func(r store.Role) bool { return strings.HasPrefix(r.Path, prefix) })
		got, next := paginate(roles, func(r store.Role) string { return strings.ToLower(r.Name) }, pg)
		byID, err := s.roleARNsByID(ctx, got...)
		if err != nil {
			return nil, err
		}
		res := listRolesResult{Roles: make([]xmlRole, 0, len(got)), IsTruncated: next != "", Marker: next}
		for _, r := range got {
			res.Roles = append(res.Roles, s.xmlRole(shown(r, byID), viewList))
		}
		return res, nil
	}, nil
}

// checkPathPrefix validates the optional PathPrefix; it defaults to "/".
func checkPathPrefix(v *awsquery.Validator, c *awsquery.Call, re *regexp.Regexp, pattern string) string {
	if !c.Has("PathPrefix") {
		return "/"
	}
	p := c.Get("PathPrefix")
	if v.Length("PathPrefix", p, 1, 512) {
		v.Pattern("PathPrefix", p, re, pattern)
	}
	return p
}

func filter[T any](in []T, keep func(T) bool) []T {
	out := in[:0:0]
	for _, x := range in {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
