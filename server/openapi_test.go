package server_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIListsEveryRoute: the served document is OpenAPI 3, describes
// every mounted route (and no other), and every $ref in it resolves.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	ts := startServer(t, serverOptions{})
	r := ts.do("GET", "/v1/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("GET openapi: %s", r)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Info       map[string]any                       `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("document does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Fatalf("not an OpenAPI 3 document: openapi %q info %v", doc.OpenAPI, doc.Info)
	}

	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var mounted []string
	for _, rt := range ts.srv.App().GetRoutes(true) {
		if rt.Method == "HEAD" {
			continue
		}
		mounted = append(mounted, strings.ToLower(rt.Method)+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	var documented []string
	for path, item := range doc.Paths {
		for method, op := range item {
			documented = append(documented, method+" "+path)
			if op["responses"] == nil || op["summary"] == "" {
				t.Errorf("%s %s: no responses or summary", method, path)
			}
		}
	}
	slices.Sort(mounted)
	mounted = slices.Compact(mounted)
	slices.Sort(documented)
	if len(mounted) < 15 {
		t.Fatalf("only %d routes mounted: %v", len(mounted), mounted)
	}
	if !slices.Equal(mounted, documented) {
		t.Errorf("routes and document differ\nmounted:    %v\ndocumented: %v", mounted, documented)
	}

	// Every reference names a component that exists.
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(r.body), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref in the document")
	}
	for _, m := range refs {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}
