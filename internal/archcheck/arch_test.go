package archcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/ruhu-dev/ruhu"

// pkg is one package of the build graph.
type pkg struct {
	path     string
	standard bool
	imports  []string // direct
	deps     []string // transitive
}

// rule is one arrow: the packages under each of from (module-relative
// folders) may not depend on anything under forbid (import paths or
// prefixes; a leading "~/" means inside this module).
type rule struct {
	name   string
	from   []string
	forbid []string
	// stdlibOnly: every dependency outside from must be standard library.
	stdlibOnly bool
	// noDirectHTTP: no package of this module in from or among their
	// dependencies may import net/http itself (third-party libraries that
	// use it internally, like the XLSX reader, are not ours to judge).
	noDirectHTTP bool
}

var storage = []string{"go.etcd.io/bbolt", "github.com/jackc", "database/sql", "github.com/minio",
	"~/server/boltstore", "~/assets/diskstore", "~/assets/s3store"}

func arrows() []rule {
	return []rule{
		{name: "syncengine is pure: standard library only, no HTTP", from: []string{"syncengine"}, stdlibOnly: true,
			forbid: []string{"net/http"}},
		{name: "the homes of domain words (collection, chinatime) are leaves: standard library only, no HTTP",
			from: []string{"collection", "chinatime"}, stdlibOnly: true, forbid: []string{"net/http"}},
		{name: "the lower layer (syncengine, assets, schemas, rules) imports neither server, client-sdk nor cmd",
			from: []string{"syncengine", "assets", "schemas", "rules"}, forbid: []string{"~/server", "~/client-sdk", "~/cmd"}},
		{name: "rules and schemas import no storage", from: []string{"rules", "schemas"}, forbid: storage},
		{name: "client-sdk does not import server or cmd", from: []string{"client-sdk"}, forbid: []string{"~/server", "~/cmd"}},
		{name: "server does not import client-sdk or cmd", from: []string{"server"}, forbid: []string{"~/client-sdk", "~/cmd"}},
		{name: "the application core imports no fiber, net/http, storage engine, HTTP package or store implementation",
			from:         []string{"server/core"},
			forbid:       append([]string{"github.com/gofiber", "github.com/valyala/fasthttp", "~/server/uploads", "~/server/reports"}, storage...),
			noDirectHTTP: true},
	}
}

// TestArchitecture checks every arrow against the real import graph.
func TestArchitecture(t *testing.T) {
	graph := loadGraph(t)
	for _, r := range arrows() {
		if problems := check(graph, r); len(problems) > 0 {
			t.Errorf("%s:\n  %s", r.name, strings.Join(problems, "\n  "))
		}
	}
	// A rule whose folders hold no package checks nothing: the folders
	// the arrows name must exist.
	for _, want := range []string{"syncengine", "server/core", "client-sdk", "rules", "schemas", "collection", "chinatime"} {
		if _, ok := graph[module+"/"+want]; !ok {
			t.Errorf("package %s is missing from the graph", want)
		}
	}
}

// TestCheckFindsViolations proves the checker reports each kind of
// violation on a small made-up graph (and none on a clean one).
func TestCheckFindsViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	graph := map[string]*pkg{}
	add := func(path string, standard bool, imports ...string) {
		graph[path] = &pkg{path: path, standard: standard, imports: imports}
	}
	add("fmt", true)
	add("net/http", true, "fmt")
	add("go.etcd.io/bbolt", false)
	add("github.com/xuri/excelize/v2", false, "net/http")
	add(m("syncengine"), false, "fmt")
	add(m("server/importer"), false, "github.com/xuri/excelize/v2")
	add(m("server/core"), false, m("syncengine"), m("server/importer"))
	add(m("server/web"), false, "net/http")
	add(m("bad/core"), false, m("server/web"))
	add(m("bad/store"), false, "go.etcd.io/bbolt")
	add(m("bad/engine"), false, "go.etcd.io/bbolt")
	fillDeps(graph)

	tests := []struct {
		name string
		rule rule
		want int // problems
	}{
		{"clean core", rule{from: []string{"server/core"}, forbid: storage, noDirectHTTP: true}, 0},
		{"a core that reaches our own HTTP code", rule{from: []string{"bad/core"}, noDirectHTTP: true}, 1},
		{"a storage import", rule{from: []string{"bad/store"}, forbid: storage}, 1},
		{"stdlib only", rule{from: []string{"bad/engine"}, stdlibOnly: true}, 1},
		{"stdlib only, clean", rule{from: []string{"syncengine"}, stdlibOnly: true, forbid: []string{"net/http"}}, 0},
		{"a forbidden module folder", rule{from: []string{"bad/core"}, forbid: []string{"~/server"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := check(graph, tt.rule); len(got) != tt.want {
				t.Errorf("got %d problems %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// check returns one line per package of r.from that breaks r.
func check(graph map[string]*pkg, r rule) []string {
	var problems []string
	for _, p := range sortedPkgs(graph) {
		if !underAny(p.path, r.from) {
			continue
		}
		for _, d := range p.deps {
			dp := graph[d]
			switch {
			case r.stdlibOnly && dp != nil && !dp.standard && !underAny(d, r.from):
				problems = append(problems, fmt.Sprintf("%s depends on %s (not the standard library)", short(p.path), d))
			case matchesAny(d, r.forbid):
				problems = append(problems, fmt.Sprintf("%s depends on %s", short(p.path), d))
			}
		}
		if r.noDirectHTTP {
			for _, q := range append([]string{p.path}, p.deps...) {
				qp := graph[q]
				if qp == nil || !strings.HasPrefix(q, module+"/") {
					continue
				}
				for _, imp := range qp.imports {
					if imp == "net/http" {
						problems = append(problems, fmt.Sprintf("%s reaches %s, which imports net/http", short(p.path), short(q)))
					}
				}
			}
		}
	}
	return problems
}

func underAny(path string, folders []string) bool {
	for _, f := range folders {
		full := module + "/" + f
		if path == full || strings.HasPrefix(path, full+"/") {
			return true
		}
	}
	return false
}

func matchesAny(path string, forbid []string) bool {
	for _, f := range forbid {
		if rest, ok := strings.CutPrefix(f, "~/"); ok {
			f = module + "/" + rest
		}
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

func sortedPkgs(graph map[string]*pkg) []*pkg {
	out := make([]*pkg, 0, len(graph))
	for _, p := range graph {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// fillDeps computes transitive dependencies of a made-up graph.
func fillDeps(graph map[string]*pkg) {
	var visit func(string, map[string]bool)
	visit = func(p string, seen map[string]bool) {
		for _, imp := range graph[p].imports {
			if !seen[imp] {
				seen[imp] = true
				visit(imp, seen)
			}
		}
	}
	for path, p := range graph {
		seen := map[string]bool{}
		visit(path, seen)
		for d := range seen {
			p.deps = append(p.deps, d)
		}
		sort.Strings(p.deps)
	}
}

// loadGraph reads the module's import graph (without tests) from go list.
func loadGraph(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string]*pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 4 {
			t.Fatalf("go list line %q", sc.Text())
		}
		graph[f[0]] = &pkg{path: f[0], standard: f[1] == "true", imports: splitList(f[2]), deps: splitList(f[3])}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return graph
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
