# ruhu: two commands matter. `make demo` runs the product on embedded
# defaults; `make test` installs what the tests need (pinned) and runs lint
# and every test, with external parts required rather than skipped.

GO            ?= go
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
TOOLS_DIR     ?= $(HOME)/.cache/ruhu-tools
MINIO_BIN     := $(TOOLS_DIR)/minio-$(MINIO_VERSION)/minio
TUSJS_VERSION := 4.3.1
TUSJS_PKG     := $(TOOLS_DIR)/tus-js-client-$(TUSJS_VERSION)/node_modules/tus-js-client/package.json
# The CouchDB-protocol peer of `ruhu bench peer` (server/syncbench/pouchpeer:
# its Go constants must say the same versions).
POUCHDB_VERSION         := 9.0.0
EXPRESS_POUCHDB_VERSION := 4.2.0
EXPRESS_VERSION         := 4.22.3
POUCHPEER_DIR := $(TOOLS_DIR)/pouchpeer-$(POUCHDB_VERSION)-$(EXPRESS_POUCHDB_VERSION)
POUCHPEER_PKG := $(POUCHPEER_DIR)/node_modules/express-pouchdb/package.json
TEST_TIMEOUT  ?= 40m

.PHONY: demo test lint bindings bench bench-peer tools fuzz chromium

demo:
	$(GO) run ./cmd/ruhu demo

test: lint tools
	RUHU_REQUIRE_EXTERNAL=1 RUHU_MINIO_BIN=$(MINIO_BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	RUHU_REQUIRE_EXTERNAL=1 RUHU_TEST_SERVE_STORE=postgres $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '$(E2E_ON_POSTGRES)' ./cmd/ruhu

# E2E_ON_POSTGRES are the end-to-end tests `make test` runs a second time
# with each server on a PostgreSQL database of its own
# (RUHU_TEST_SERVE_STORE=postgres; the bbolt backup restore test skips,
# TestRestoredPostgresMakesTabletsResync is its PostgreSQL twin).
E2E_ON_POSTGRES := TestTwoTabletsConvergeOverHTTP|TestResendingAPushedBatchChangesNothing|TestTabletCLIAgainstRealServer|TestTabletEvidenceCLIAgainstRealServer|TestPhotoUploadSurvivesACutAgainstRealServer|TestAdminCommandsAgainstRunningServer|TestTabletCLIJSON|TestDemoExitWalk

# lint: formatting, vet, staticcheck (pinned in go.mod as a tool), and every
# arrow of the architecture (DESIGN.md), checked on the import graph by
# internal/archcheck: syncengine standard library only; server/core no
# fiber, net/http or storage; rules and schemas no storage; client-sdk not
# server; the lower layer imports neither server, client-sdk nor cmd.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 ./internal/archcheck
	@$(MAKE) --no-print-directory bindings
	@echo "lint ok"

# bindings: gobind (golang.org/x/mobile, pinned in go.mod as a tool)
# generates the Java and Objective-C bindings of the gomobile facade
# client-sdk/mobile, and javac compiles the Java ones — gobind's go.Seq
# support classes, the facade's classes and testdata/java/LinkCheck.java,
# which calls them as an Android app does — proving an app can link it.
# No Android SDK here: the one android.jar class Seq.java names comes from
# testdata/java/android. The Objective-C is generated, not compiled (that
# needs Xcode). A JDK comes from Debian if missing.
bindings:
	@command -v javac >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jdk-headless)
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	  $(GO) tool gobind -lang=java,objc -javapkg=dev.ruhu -outdir="$$out" ./client-sdk/mobile && \
	  test -s "$$out/src/gobind/Mobile.objc.h" && \
	  javac -encoding UTF-8 -Werror -d "$$out/classes" -sourcepath client-sdk/mobile/testdata/java \
	    $$(find "$$out/java" -name '*.java') client-sdk/mobile/testdata/java/LinkCheck.java && \
	  echo "bindings ok: Java compiled ($$(find "$$out/classes" -name '*.class' | wc -l) classes), Objective-C generated"

# tools: MinIO for the object-store tests, built from the module proxy once,
# and tus-js-client (a standard tus client the upload tests drive under
# node), and the PouchDB peer's packages (PouchDB on LevelDB under
# express-pouchdb, for `ruhu bench peer`), all cached outside the repo.
# Node comes from Debian if missing.
tools: $(MINIO_BIN) $(TUSJS_PKG) $(POUCHPEER_PKG) chromium

# chromium: Debian's Chromium drives the web console's and the field app's
# browser tests (chromedp); CJK fonts make their screenshots legible.
chromium:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk)

$(TUSJS_PKG):
	@command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm install --no-save --no-audit --no-fund --prefix $(TOOLS_DIR)/tus-js-client-$(TUSJS_VERSION) tus-js-client@$(TUSJS_VERSION)

$(POUCHPEER_PKG):
	@command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm install --no-save --no-audit --no-fund --prefix $(POUCHPEER_DIR) \
	  pouchdb@$(POUCHDB_VERSION) express-pouchdb@$(EXPRESS_POUCHDB_VERSION) express@$(EXPRESS_VERSION)

$(MINIO_BIN):
	mkdir -p $(dir $(MINIO_BIN))
	GOBIN=$(dir $(MINIO_BIN)) GOFLAGS=-buildvcs=false $(GO) install github.com/minio/minio@$(MINIO_VERSION)

bench:
	$(GO) run ./cmd/ruhu bench sync

# bench-peer: push and pull 10,000 visits to ruhu and to the PouchDB 9 /
# express-pouchdb 4.2 peer, alternating, 3 runs each; JSON with the ratios.
# Twice: the peer's server driven by a Go CouchDB replication client, then
# PouchDB's own replicator from and into a local PouchDB (the issue's setup).
bench-peer: $(POUCHPEER_PKG)
	$(GO) run ./cmd/ruhu bench peer --node-modules $(POUCHPEER_DIR)/node_modules --peer-client go
	$(GO) run ./cmd/ruhu bench peer --node-modules $(POUCHPEER_DIR)/node_modules --peer-client pouchdb

# fuzz: a short run of each decoder fuzz target (their seed corpora also
# run under `make test`). FUZZTIME=2m make fuzz for longer runs.
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./syncengine:FuzzWireOp ./syncengine:FuzzDecodeCursor \
	./server:FuzzPushDecode ./server:FuzzPushBodyDecoder ./server/uploads:FuzzTusHeaders \
	./server/boltstore:FuzzStoredArea ./server/boltstore:FuzzScanStored \
	./server/importer:FuzzParse ./server/importer:FuzzValidateIDNumber \
	./schemas:FuzzValidatePatch ./schemas:FuzzDecodeValue \
	./assets/photo:FuzzProcess ./assets/photo:FuzzSniff ./assets/signature:FuzzCanonicalize \
	./client-sdk:FuzzPullResponse \
	./rules:FuzzParseDate ./rules:FuzzParsePeriod ./rules:FuzzPolicyFile

fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$pkg $$fn"; $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) || exit 1; done
