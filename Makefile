# ruhu: two commands matter. `make demo` runs the product on embedded
# defaults; `make test` installs what the tests need (pinned) and runs lint
# and every test, with external parts required rather than skipped.

GO            ?= go
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
TOOLS_DIR     ?= $(HOME)/.cache/ruhu-tools
MINIO_BIN     := $(TOOLS_DIR)/minio-$(MINIO_VERSION)/minio
TUSJS_VERSION := 4.3.1
TUSJS_PKG     := $(TOOLS_DIR)/tus-js-client-$(TUSJS_VERSION)/node_modules/tus-js-client/package.json
TEST_TIMEOUT  ?= 40m

.PHONY: demo test lint bench tools fuzz chromium

demo:
	$(GO) run ./cmd/ruhu demo

test: lint tools
	RUHU_REQUIRE_EXTERNAL=1 RUHU_MINIO_BIN=$(MINIO_BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

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
	@echo "lint ok"

# tools: MinIO for the object-store tests, built from the module proxy once,
# and tus-js-client (a standard tus client the upload tests drive under
# node), both cached outside the repo. Node comes from Debian if missing.
tools: $(MINIO_BIN) $(TUSJS_PKG) chromium

# chromium: Debian's Chromium drives the web console's and the field app's
# browser tests (chromedp); CJK fonts make their screenshots legible.
chromium:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk)

$(TUSJS_PKG):
	@command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm install --no-save --no-audit --no-fund --prefix $(TOOLS_DIR)/tus-js-client-$(TUSJS_VERSION) tus-js-client@$(TUSJS_VERSION)

$(MINIO_BIN):
	mkdir -p $(dir $(MINIO_BIN))
	GOBIN=$(dir $(MINIO_BIN)) GOFLAGS=-buildvcs=false $(GO) install github.com/minio/minio@$(MINIO_VERSION)

bench:
	$(GO) run ./cmd/ruhu bench sync

# fuzz: a short run of each decoder fuzz target (their seed corpora also
# run under `make test`). FUZZTIME=2m make fuzz for longer runs.
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./syncengine:FuzzWireOp ./syncengine:FuzzDecodeCursor \
	./server:FuzzPushDecode ./server/uploads:FuzzTusHeaders \
	./server/boltstore:FuzzStoredArea ./server/boltstore:FuzzScanStored \
	./server/importer:FuzzParse ./server/importer:FuzzValidateIDNumber \
	./schemas:FuzzValidatePatch ./schemas:FuzzDecodeValue \
	./assets/photo:FuzzProcess ./assets/photo:FuzzSniff ./assets/signature:FuzzCanonicalize \
	./client-sdk:FuzzPullResponse \
	./rules:FuzzParseDate ./rules:FuzzParsePeriod ./rules:FuzzPolicyFile

fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$pkg $$fn"; $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) || exit 1; done
