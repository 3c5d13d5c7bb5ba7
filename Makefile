# Moss: the two commands a newcomer needs are `make run` and `make test`.
# Both install what they need (Debian packages through apt-get, Go modules
# through the Go module proxy) before building.

GO       ?= go
BUILD    := build
EXAMPLES := sensor alerts thermostat
PLUGINS  := bridge
COMPONENTS := $(addprefix $(BUILD)/components/,$(addsuffix /component.wasm.stamp,$(EXAMPLES) $(PLUGINS)))
# Debian packages the build and the tests use, each with a command or file it
# provides (how deps tells whether it is installed).
APT_PKGS := wabt:wat2wasm clang:clang lld:wasm-ld wasi-libc:/usr/lib/wasm32-wasi/libc.a libclang-rt-14-dev-wasm32:/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a \
	rustc:/usr/bin/rustc libstd-rust-dev-wasm32:/usr/lib/rustlib/wasm32-wasi/lib/self-contained/crt1-reactor.o lld-14:/usr/bin/lld-14 \
	mosquitto:/usr/sbin/mosquitto mosquitto-clients:mosquitto_sub nodejs:node npm:npm
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all run test check deps build components examples vet fmt-check tidy-check cross bench fuzz clean

all: build components

## deps: install the toolchains the build and the tests need (idempotent)
deps:
	@missing=""; for p in $(APT_PKGS); do cmd=$${p#*:}; pkg=$${p%%:*}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -e "$$cmd" ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@$(GO) mod download

## build: the moss binary
build:
	$(GO) build -o $(BUILD)/moss ./host/cmd/moss

## components: the example components and first-party plugins as Wasm, with manifests stamped with their sha256
components: $(COMPONENTS)

$(BUILD)/components/%/component.wasm.stamp: examples/%/*.go examples/%/component.toml sdk/go/*.go abi/*.go go.mod
	@mkdir -p $(@D)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(@D)/$*.wasm ./examples/$*
	@sum=$$(sha256sum $(@D)/$*.wasm | cut -d' ' -f1); \
	  sed '/^path = "$*.wasm"/a sha256 = "'$$sum'"' examples/$*/component.toml > $(@D)/component.toml
	@touch $@

# First-party plugins build like the examples, from plugins/<name>.
$(BUILD)/components/%/component.wasm.stamp: plugins/%/*.go plugins/%/component.toml sdk/go/*.go abi/*.go go.mod
	@mkdir -p $(@D)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(@D)/$*.wasm ./plugins/$*
	@sum=$$(sha256sum $(@D)/$*.wasm | cut -d' ' -f1); \
	  sed '/^path = "$*.wasm"/a sha256 = "'$$sum'"' plugins/$*/component.toml > $(@D)/component.toml
	@touch $@

## examples: every example in every language (the alerts ports with their SDKs' build scripts)
examples: deps components
	@mkdir -p $(BUILD)/examples
	sdk/c/build.sh examples/alerts-c/alerts.c -o $(BUILD)/examples/alerts-c.wasm
	sdk/rust/build.sh examples/alerts-rust/alerts.rs -o $(BUILD)/examples/alerts-rust.wasm
	sdk/assemblyscript/build.sh examples/alerts-as/alerts.ts -o $(BUILD)/examples/alerts-as.wasm
	sdk/c/build.sh examples/thermostat-c/thermostat.c -o $(BUILD)/examples/thermostat-c.wasm
	sdk/rust/build.sh examples/thermostat-rust/thermostat.rs -o $(BUILD)/examples/thermostat-rust.wasm
	sdk/assemblyscript/build.sh examples/thermostat-as/thermostat.ts -o $(BUILD)/examples/thermostat-as.wasm
	@ls -l $(BUILD)/components/*/*.wasm $(BUILD)/examples/*.wasm

## run: build the host and the examples and run them with configs/default.toml
run: deps build components
	$(BUILD)/moss run --config configs/default.toml --print '#'

## test: vet, the whole suite, then the host, ABI and SDK again under the race detector.
## The first pass compiles the Wasm guests once into a shared compilation cache
## (see internal/testwasm); the race pass loads them from it instead of
## compiling them ten times slower under -race.
test: deps vet
	$(GO) test -count=1 -timeout 10m ./...
	$(GO) test -race -count=1 -timeout 15m ./abi/... ./host/... ./sdk/...

vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./sdk/go/... ./examples/... ./plugins/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

tidy-check:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

## cross: the host for ARM devices, the SDK for wasip1
cross:
	GOOS=linux GOARCH=arm64 $(GO) build -o $(BUILD)/moss-linux-arm64 ./host/cmd/moss
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o $(BUILD)/moss-linux-armv7 ./host/cmd/moss
	GOOS=wasip1 GOARCH=wasm $(GO) build ./abi/... ./sdk/go/...

## check: the gate before a commit
check: fmt-check vet tidy-check cross test

## bench: benchmark tables (see bench/README.md)
bench: deps
	$(GO) run ./bench/cmd/benchtable

## fuzz: each fuzz target for a bounded time (FUZZTIME, default 30s)
FUZZTIME ?= 30s
FUZZ_TARGETS := abi:FuzzReader host/component:FuzzHostCall host/bus:FuzzMatch host/manifest:FuzzManifest host/config:FuzzConfig \
	host/authz:FuzzAllow host/internal/tomlx:FuzzKeyLines host/wasm:FuzzInstrument host/shadow:FuzzDecode host/shadow:FuzzMerge \
	host/deploy:FuzzDocument plugins/bridge:FuzzParseMappings bench/baseline/ipc:FuzzFrames
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; \
	  echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) || exit 1; done

clean:
	rm -rf $(BUILD) var
