package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
)

// TestOpenAPIListsEveryRoute: the served document is OpenAPI 3, describes
// every mounted route (and no other, the upload routes included), every
// parameter of every operation says what it is, and every $ref in it
// resolves.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
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
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s %s: %v parameter %v has no description", method, path, p["in"], p["name"])
				}
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

// TestUploadMetadataAsDocumented: the Upload-Metadata keys the document
// lists as required are what the server requires: a creation lacking any
// one of them is refused with EINVALID, one with all of them is created.
func TestUploadMetadataAsDocumented(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	var doc struct {
		Components struct {
			Schemas struct {
				UploadMetadata struct {
					Required   []string       `json:"required"`
					Properties map[string]any `json:"properties"`
				} `json:"UploadMetadata"`
			} `json:"schemas"`
		} `json:"components"`
	}
	ts.mustJSON("GET", "/v1/openapi.json", "", nil, 200, &doc)
	meta := doc.Components.Schemas.UploadMetadata
	want := []string{"area", "collection", "kind", "record_id", "sha256"}
	slices.Sort(meta.Required)
	if !slices.Equal(meta.Required, want) || len(meta.Properties) != len(want) {
		t.Fatalf("UploadMetadata requires %v of %v, want %v", meta.Required, meta.Properties, want)
	}
	wang := ts.as("wang")
	body := []byte("not really a photo")
	sum := sha256.Sum256(body)
	values := map[string]string{"sha256": hex.EncodeToString(sum[:]), "kind": "photo", "collection": "photos",
		"record_id": "phV1a-meta", "area": areaV1}
	header := func(skip string) string {
		var pairs []string
		for _, k := range want {
			if k != skip {
				pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(values[k])))
			}
		}
		return strings.Join(pairs, ",")
	}
	for _, key := range want {
		r := ts.do("POST", "/v1/uploads", wang.access, nil, "Tus-Resumable", "1.0.0",
			"Upload-Length", strconv.Itoa(len(body)), "Upload-Metadata", header(key))
		if r.status != 400 || r.errorCode() != "EINVALID" {
			t.Errorf("creation without %s: got %s, want 400 EINVALID", key, r)
		}
	}
	r := ts.do("POST", "/v1/uploads", wang.access, nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(body)), "Upload-Metadata", header(""))
	if r.status != 201 || r.header.Get("Location") == "" {
		t.Errorf("creation with every documented key: got %s (Location %q), want 201", r, r.header.Get("Location"))
	}
}
