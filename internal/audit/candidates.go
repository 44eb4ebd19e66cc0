package audit

import (
	"regexp"
	"sort"
	"strings"
)

// candidate is a token someone could obtain: its identity, whether it is an
// outsider's, and its full claim set.
type candidate struct {
	url    string
	prov   *Provider
	id     Identity
	claims map[string]any
	// admitted is set once the whole policy admits the candidate.
	admitted bool
}

// Names the audit uses for identities an outsider or insider creates.
const (
	outsiderOwner = "keyless-audit-outsider"
	newRepo       = "keyless-audit-new-repo"
	newProject    = "0a0d1700-0000-4000-8000-00000000a0d1"
	newBranch     = "keyless-audit-branch"
	newTag        = "v0.0.0-keyless-audit"
	newEnv        = "keyless-audit-env"
	outsiderSub   = "keyless-audit-outsider"
)

// fillers replace wildcards when a policy value is turned into a subject;
// they are what an attacker would type to satisfy a pattern.
var fillers = []string{"", "x", "-evil", "evil", "/" + newRepo, "-evil/x", "evil/x",
	"-evil/x:ref:refs/heads/main", outsiderOwner + "/x:ref:refs/heads/main", "x:ref:refs/heads/main",
	newBranch, newTag, "main", "pull_request", "ref:refs/heads/" + newBranch, "ref:refs/tags/" + newTag,
	"environment:" + newEnv, "-evil/x:ref_type:branch:ref:main", "/" + newRepo + ":ref_type:branch:ref:main",
	outsiderOwner + "/x:ref_type:branch:ref:main", "branch:ref:" + newBranch, "tag:ref:" + newTag,
	"-evil:project:p:workspace:w:run_phase:apply", "-evil:pipeline:p:ref:refs/heads/main:commit:0:step:deploy",
	"plan", "apply", newProject, newProject + "/user/u", "u", "1",
	"ref_type:branch:ref:" + newBranch, "ref_type:tag:ref:" + newTag,
	"ref:refs/heads/" + newBranch + ":commit:0:step:deploy", "ref:refs/tags/" + newTag + ":commit:0:step:deploy"}

// instantiate returns every string obtained from pattern by replacing its
// wildcards with fillers ('?' with one character).
func instantiate(pattern string) []string {
	pattern = strings.ReplaceAll(pattern, "?", "x")
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return []string{pattern}
	}
	var out []string
	if len(parts) > 3 { // many wildcards: one filler everywhere
		for _, f := range fillers {
			out = append(out, strings.Join(parts, f))
		}
		return out
	}
	var rec func(i int, acc string)
	rec = func(i int, acc string) {
		if i == len(parts)-1 {
			out = append(out, acc+parts[i])
			return
		}
		for _, f := range fillers {
			rec(i+1, acc+parts[i]+f)
		}
	}
	rec(0, "")
	return out
}

// candidates builds the tokens worth trying against the statements that
// trust provider url: every identity the policy's own values describe once
// their wildcards are filled in, plus outsiders, new repositories and
// untrusted refs of the owner's repositories.
func (a *analysis) candidates(url string, prov *Provider, subs []string, tenant string) []*candidate {
	var ids []Identity
	seen := map[string]bool{}
	add := func(id Identity) {
		k := prov.format(id) + "|" + id.Kind + "|" + id.Env + "|" + id.Ref
		if !seen[k] {
			seen[k] = true
			ids = append(ids, id)
		}
	}
	owners := map[string]string{} // owner -> immutable id
	repos := map[string]string{}  // repo of the legit owner -> immutable id
	immutable := false
	envs, refs := map[string]bool{}, map[string]bool{}
	for _, s := range subs {
		for _, v := range instantiate(s) {
			id, ok := prov.parse(v)
			if !ok {
				continue
			}
			if tenant != "" && !prov.Shared {
				id.Owner = tenant
			}
			add(id)
			if id.Immutable {
				immutable = true
			}
			if id.Owner != "" {
				if _, ok := owners[id.Owner]; !ok || owners[id.Owner] == "" {
					owners[id.Owner] = id.OwnerID
				}
			}
			if (a.owner == "" || id.Owner == a.owner) && id.Repo != "" {
				repos[id.Repo] = id.RepoID
			}
			if id.Env != "" {
				envs[id.Env] = true
			}
			if id.Ref != "" {
				refs[id.Ref] = true
			}
		}
	}
	if prov == github {
		for _, s := range subs {
			for _, m := range immutableOwnerRE.FindAllStringSubmatch(s, -1) {
				immutable = true
				if owners[m[1]] == "" {
					owners[m[1]] = m[2]
				}
			}
		}
	}
	if prov == generic {
		add(Identity{Subject: outsiderSub})
	} else {
		if a.owner != "" {
			if _, ok := owners[a.owner]; !ok {
				owners[a.owner] = ""
			}
		}
		if prov.Shared {
			owners[outsiderOwner] = ""
		}
		repos[newRepo] = ""
		if prov == circleci {
			delete(repos, newRepo)
			repos[newProject] = ""
		}
		type kr struct{ kind, ref, env string }
		kinds := []kr{{"branch", "main", ""}, {"branch", newBranch, ""}, {"tag", newTag, ""}, {"pull_request", "", ""},
			{"environment", "", "production"}, {"environment", "", newEnv}, {"plan", "", ""}, {"apply", "", ""}}
		for e := range envs {
			kinds = append(kinds, kr{"environment", "", e})
		}
		for r := range refs {
			kinds = append(kinds, kr{"branch", r, ""})
		}
		for _, o := range sortedKeys(owners) {
			for _, r := range sortedKeys(repos) {
				if o != a.owner && r != newRepo && !prov.Shared {
					continue
				}
				for _, k := range kinds {
					id := Identity{Owner: o, OwnerID: owners[o], Repo: r, RepoID: repos[r], Kind: k.kind, Ref: k.ref, Env: k.env}
					if !fitsKind(prov, k.kind) {
						continue
					}
					add(id)
					if immutable {
						id.Immutable = true
						if id.OwnerID == "" {
							id.OwnerID = "990000001"
						}
						if id.RepoID == "" {
							id.RepoID = "990000002"
						}
						add(id)
					}
				}
			}
		}
	}
	var out []*candidate
	for _, id := range ids {
		if !prov.Shared && prov != generic && tenant != "" {
			id.Owner = tenant
		}
		if prov == generic && id.Subject == "" {
			continue
		}
		out = append(out, &candidate{url: url, prov: prov, id: id})
	}
	return out
}

func fitsKind(p *Provider, kind string) bool {
	switch p {
	case terraform:
		return kind == "plan" || kind == "apply"
	case circleci, bitbucket:
		return kind == "branch"
	case buildkite:
		return kind == "branch" || kind == "tag"
	case gitlab:
		return kind == "branch" || kind == "tag" || kind == "pull_request"
	}
	return kind != "plan" && kind != "apply"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// immutableOwnerRE finds GitHub immutable owner ids in subject patterns.
var immutableOwnerRE = regexp.MustCompile(`repo:([^/@*?:]+)@([0-9]+)/`)
