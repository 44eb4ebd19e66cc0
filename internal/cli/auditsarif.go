package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keylessci/keyless/internal/audit"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset
// GitHub code scanning reads: rules with a default level, results with a
// rule id, a message and a physical location (file and line) for file
// inputs, or a logical location (the role ARN) for roles read from IAM.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

func sarifLevel(s audit.Severity) string {
	switch s {
	case audit.Critical, audit.High:
		return "error"
	case audit.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub uses to rank security
// alerts (properties.security-severity).
func securitySeverity(s audit.Severity) string {
	switch s {
	case audit.Critical:
		return "9.5"
	case audit.High:
		return "8.0"
	case audit.Medium:
		return "5.5"
	}
	return "3.0"
}

func writeSARIF(w io.Writer, rep auditReport) error {
	index := map[string]int{}
	var rules []sarifRule
	for i, r := range audit.Rules() {
		index[r.ID] = i
		rules = append(rules, sarifRule{ID: r.ID, ShortDescription: sarifText{r.Summary},
			DefaultConfiguration: sarifConfig{sarifLevel(r.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity(r.Severity), "tags": []string{"security", "iam", "oidc"}}})
	}
	results := []sarifResult{}
	for _, r := range rep.Roles {
		for _, f := range r.Findings {
			loc := sarifLocation{}
			if strings.HasPrefix(r.Source, "arn:") {
				loc.LogicalLocations = []sarifLogical{{Name: r.Name, FullyQualifiedName: r.ARN, Kind: "resource"}}
			} else {
				file, _, _ := strings.Cut(r.Source, ":")
				line := r.line
				if line < 1 {
					line = 1
				}
				loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: file}, Region: sarifRegion{StartLine: line}}
			}
			witness, _ := json.Marshal(f.Witness)
			props := map[string]any{"role": r.Name, "roleArn": r.ARN, "statement": f.Statement, "witness": json.RawMessage(witness)}
			if string(f.Fix) != "null" && len(f.Fix) > 0 {
				props["fix"] = f.Fix
			}
			if f.Proof != nil && f.Proof.AssumedRoleARN != "" {
				props["assumedRoleArn"] = f.Proof.AssumedRoleARN
			}
			results = append(results, sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
				Message:   sarifText{fmt.Sprintf("%s: %s", r.Name, f.Message)},
				Locations: []sarifLocation{loc}, Properties: props})
		}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: sarifDriver{Name: "keyless audit", InformationURI: "https://github.com/keylessci/keyless",
			Rules: rules}}, Results: results}},
	}
	return writeJSONOut(w, log)
}
