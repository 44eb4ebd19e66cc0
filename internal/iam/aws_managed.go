package iam

import (
	"context"
	"errors"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// awsManaged are the AWS managed policies keyless holds, under AWS's ARNs
// (arn:aws:iam::aws:policy/NAME), policy ids and creation dates, so a role
// can attach what a setup example or a Terraform module names.
//
// Documents: AdministratorAccess is AWS's (Action "*" on "*").
// PowerUserAccess is AWS's document as published in version v4 (everything
// but iam:*, organizations:* and account:*, plus the few IAM and
// Organizations calls it lists). ReadOnlyAccess is a faithful subset: AWS's
// document lists read actions of several hundred services and is larger
// than the managed-policy size quota keyless enforces on every stored
// document; keyless keeps its IAM part (iam:Generate*, Get*, List*,
// Simulate*), so it grants nothing AWS's does not. STS's
// GetCallerIdentity needs no permission.
var awsManaged = []struct {
	name, id, description string
	created               time.Time
	document              string
}{
	{
		name: "AdministratorAccess", id: "ANPAIWMBCKSKIEE64ZLYK",
		description: "Provides full access to AWS services and resources.",
		created:     time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC),
		document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	},
	{
		name: "PowerUserAccess", id: "ANPAJYRXTHIB4FOVS3ZXS",
		description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
		created:     time.Date(2015, 2, 6, 18, 39, 47, 0, time.UTC),
		document: `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},` +
			`{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles",` +
			`"organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}`,
	},
	{
		name: "ReadOnlyAccess", id: "ANPAILL3HVNFSB6DCOWYQ",
		description: "Provides read-only access to AWS services and resources.",
		created:     time.Date(2015, 2, 6, 18, 39, 48, 0, time.UTC),
		document: `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Action":["iam:Generate*","iam:Get*","iam:List*","iam:Simulate*"],"Resource":"*"}]}`,
	},
}

// awsManagedPolicy returns the AWS managed policy named by policyARN, as
// it is first written to the store.
func awsManagedPolicy(policyARN string) (store.ManagedPolicy, bool) {
	for _, m := range awsManaged {
		if policyARN != awsManagedARN(m.name) {
			continue
		}
		return store.ManagedPolicy{
			ARN: policyARN, Name: m.name, Path: "/", ID: m.id, Document: m.document, Description: m.description,
			CreateDate: m.created, UpdateDate: m.created, DefaultVersion: "v1", LastVersion: 1,
			Versions: []store.PolicyVersion{{ID: "v1", Document: m.document, CreateDate: m.created}},
		}, true
	}
	return store.ManagedPolicy{}, false
}

func awsManagedARN(name string) string { return "arn:aws:iam::aws:policy/" + name }

// awsManagedPolicy reads an AWS managed policy, writing it to the store the
// first time it is used: attachments and the role directory then find it
// like any stored policy. ok is false for an ARN keyless does not hold.
func (s *Service) awsManagedPolicy(ctx context.Context, policyARN string) (p store.ManagedPolicy, ok bool, err error) {
	seed, ok := awsManagedPolicy(policyARN)
	if !ok {
		return store.ManagedPolicy{}, false, nil
	}
	p, err = s.store.GetPolicy(ctx, policyARN)
	if !errors.Is(err, store.ErrNotFound) {
		return p, true, err
	}
	if err := s.store.CreatePolicy(ctx, seed); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return store.ManagedPolicy{}, true, err
	}
	p, err = s.store.GetPolicy(ctx, policyARN)
	return p, true, err
}

// withAWSManaged adds to ps (the stored policies) the AWS managed policies
// not yet written to the store.
func withAWSManaged(ps []store.ManagedPolicy) []store.ManagedPolicy {
	have := map[string]bool{}
	for _, p := range ps {
		have[p.ARN] = true
	}
	for _, m := range awsManaged {
		if a := awsManagedARN(m.name); !have[a] {
			p, _ := awsManagedPolicy(a)
			ps = append(ps, p)
		}
	}
	return ps
}
