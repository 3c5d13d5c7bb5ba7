package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/moss-edge/moss/host/manifest"
	assdk "github.com/moss-edge/moss/sdk/assemblyscript"
	csdk "github.com/moss-edge/moss/sdk/c"
	rustsdk "github.com/moss-edge/moss/sdk/rust"
)

// mossModule is the Go module a Go component needs for the SDK.
const mossModule = "github.com/moss-edge/moss"

func newNewCmd(g *globals) *cobra.Command {
	var lang, dir, mossSrc string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a new component: source, component.toml and a build script",
		Long: `Create a component in a new directory NAME (or --dir): a small working
component that subscribes to NAME/in and publishes each message back on
NAME/out, a strict component.toml granting exactly that, and build.sh, which
builds NAME.wasm with the language's toolchain. It builds and runs with no
edits:

  cd NAME && ./build.sh
  # then add the manifest to the host configuration:
  #   [[components]]
  #   manifest = "path/to/NAME/component.toml"

C, Rust and AssemblyScript components get a copy of the SDK in moss-sdk/, so
they build on their own (AssemblyScript's first build installs the pinned
compiler with npm). A Go component uses the Go SDK from a Moss checkout: inside one it
is part of the module; elsewhere its go.mod points at the checkout found
above the current directory, or at --moss-src.`,
		Example: `  moss new --lang go hello
  moss new --lang c --dir components/blink blink
  moss new --lang rust relay
  moss new --lang assemblyscript ticker`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !manifest.ValidName(name) || strings.ContainsAny(name, ".") {
				return fmt.Errorf("component name %q: use lowercase letters, digits, '_' and '-', starting with a letter or digit", name)
			}
			if dir == "" {
				dir = name
			}
			if _, err := os.Stat(dir); err == nil {
				return fmt.Errorf("%s already exists: choose another name or --dir", dir)
			}
			files, err := scaffold(lang, name, dir, mossSrc)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, f := range files {
				p := filepath.Join(dir, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(p, f.data, f.mode); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.Stdout, "created %s component %q in %s\nbuild it: cd %s && ./build.sh\n", lang, name, dir, dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&lang, "lang", "l", "go", "language: go, c, rust or assemblyscript")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default: NAME)")
	cmd.Flags().StringVar(&mossSrc, "moss-src", "", "Moss checkout whose Go SDK a Go component uses (default: found above the current directory)")
	cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"go", "c", "rust", "assemblyscript"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

type file struct {
	path string
	data []byte
	mode os.FileMode
}

type scaffoldData struct {
	Name, Ident, Lang, Source string
}

func scaffold(lang, name, dir, mossSrc string) ([]file, error) {
	d := scaffoldData{Name: name, Ident: strings.ReplaceAll(name, "-", "_"), Lang: lang}
	var files []file
	add := func(path, tmpl string, mode os.FileMode) error {
		var b bytes.Buffer
		if err := template.Must(template.New(path).Parse(tmpl)).Execute(&b, d); err != nil {
			return err
		}
		files = append(files, file{path, b.Bytes(), mode})
		return nil
	}
	var sdk fs.FS
	switch lang {
	case "go":
		d.Source = "main.go"
		add("main.go", goTemplate, 0o644)
		add("build.sh", goBuild, 0o755)
		mod, err := goModFor(dir, mossSrc, name)
		if err != nil {
			return nil, err
		}
		if mod != nil {
			files = append(files, file{"go.mod", mod, 0o644})
		}
	case "c":
		d.Source = name + ".c"
		add(d.Source, cTemplate, 0o644)
		add("build.sh", cBuild, 0o755)
		sdk = csdk.Files
	case "rust":
		d.Source = name + ".rs"
		add(d.Source, rustTemplate, 0o644)
		add("build.sh", rustBuild, 0o755)
		sdk = rustsdk.Files
	case "assemblyscript":
		d.Source = name + ".ts"
		add(d.Source, asTemplate, 0o644)
		add("build.sh", asBuild, 0o755)
		add(".gitignore", "moss-sdk/node_modules/\n*.wasm\n", 0o644)
		sdk = assdk.Files
	default:
		return nil, fmt.Errorf("--lang %q: want go, c, rust or assemblyscript", lang)
	}
	add("component.toml", manifestTemplate, 0o644)
	if sdk != nil {
		err := fs.WalkDir(sdk, ".", func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := fs.ReadFile(sdk, p)
			mode := os.FileMode(0o644)
			if strings.HasSuffix(p, ".sh") {
				mode = 0o755
			}
			files = append(files, file{filepath.Join("moss-sdk", p), b, mode})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// goModFor returns the go.mod a Go component in dir needs: none inside a
// Moss checkout (the component is part of its module), else one that points
// the SDK's module at the checkout.
func goModFor(dir, mossSrc, name string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, ok := findMossModule(filepath.Dir(abs)); ok && mossSrc == "" {
		return nil, nil
	}
	src := mossSrc
	if src == "" {
		cwd, _ := os.Getwd()
		root, ok := findMossModule(cwd)
		if !ok {
			return nil, fmt.Errorf("a Go component needs the Go SDK from a Moss checkout: run moss new inside one, or pass --moss-src DIR")
		}
		src = root
	}
	if src, err = filepath.Abs(src); err != nil {
		return nil, err
	}
	if _, ok := findMossModule(src); !ok {
		return nil, fmt.Errorf("--moss-src %s: not a Moss checkout (no go.mod for %s)", src, mossModule)
	}
	return []byte(fmt.Sprintf("module %s\n\ngo 1.24\n\nrequire %s v0.0.0\n\nreplace %s => %s\n", name, mossModule, mossModule, src)), nil
}

// findMossModule looks for the Moss module's go.mod at dir and above.
func findMossModule(dir string) (string, bool) {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == "module "+mossModule {
				return dir, true
			}
			return "", false // inside another module
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

const manifestTemplate = `# The manifest of {{.Name}}: strict TOML; an unknown key is an error.
name = "{{.Name}}"
version = "0.1.0"
description = "Echoes messages from {{.Name}}/in to {{.Name}}/out."

[wasm]
path = "{{.Name}}.wasm"
# sha256 = "..."   # pin the module: the host then refuses any other bytes

[limits]
memory = "{{if eq .Lang "go"}}32MiB{{else}}1MiB{{end}}"
call_deadline = "1s"
mailbox = 256

[config]
prefix = ""        # put before each echoed payload

[[access]]
operations = ["pubsub.subscribe"]
resources = ["{{.Name}}/in"]

[[access]]
operations = ["pubsub.publish"]
resources = ["{{.Name}}/out"]
`

const goTemplate = `// Command {{.Name}} is a Moss component: it publishes every message it gets
// on {{.Name}}/in back on {{.Name}}/out, after the configured prefix.
package main

import (
	"errors"

	moss "github.com/moss-edge/moss/sdk/go"
)

// A component is a reactor: main never runs; register what to do in init.
func init() { moss.OnStart(start) }

func main() {}

func start() error {
	prefix := ""
	if err := moss.Config().Get(&prefix, "prefix"); err != nil && !errors.Is(err, moss.ErrNotFound) {
		return err
	}
	_, err := moss.Subscribe("{{.Name}}/in", func(m moss.Message) {
		// m.Payload is only valid during the handler: build a new slice.
		out := append([]byte(prefix), m.Payload...)
		if err := moss.Publish("{{.Name}}/out", out); err != nil {
			moss.Warnf("publish: %v", err)
		}
	})
	if err == nil {
		moss.Infof("{{.Name}} echoing {{.Name}}/in to {{.Name}}/out")
	}
	return err
}
`

const goBuild = `#!/bin/sh
# Builds {{.Name}}.wasm: a Go component is a WASI reactor (c-shared).
set -eu
cd "$(dirname "$0")"
# A component outside a Moss checkout has its own go.mod: the first build
# resolves the SDK's dependencies (through the Go module proxy).
if [ -f go.mod ] && [ ! -f go.sum ]; then go mod tidy; fi
GOOS=wasip1 GOARCH=wasm exec go build -buildmode=c-shared -o {{.Name}}.wasm .
`

const cTemplate = `// {{.Name}} is a Moss component: it publishes every message it gets on
// {{.Name}}/in back on {{.Name}}/out, after the configured prefix.
#include <stdlib.h>
#include <string.h>

#include "moss.h"

static char prefix[256];

static void on_message(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)ctx;
	size_t n = strlen(prefix);
	uint8_t *out = malloc(n + len + 1);
	if (!out) return;
	memcpy(out, prefix, n);
	memcpy(out + n, payload, len);
	if (moss_publish("{{.Name}}/out", out, n + len) < 0)
		moss_warnf("publish: %s", moss_last_error());
	free(out);
}

static int start(void) {
	// A missing key keeps the default (an empty prefix).
	moss_config_get_string("prefix", prefix, sizeof prefix);
	if (moss_subscribe("{{.Name}}/in", on_message, NULL) < 0) {
		moss_errorf("subscribe: %s", moss_last_error());
		return 1;
	}
	moss_infof("{{.Name}} echoing {{.Name}}/in to {{.Name}}/out");
	return 0;
}

// A component is a reactor: register the start function from a constructor.
__attribute__((constructor)) static void init(void) { moss_on_start(start); }
`

const cBuild = `#!/bin/sh
# Builds {{.Name}}.wasm with the SDK copied into moss-sdk/ (clang, lld,
# wasi-libc: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32).
set -eu
cd "$(dirname "$0")"
exec moss-sdk/build.sh {{.Name}}.c -o {{.Name}}.wasm
`

const rustTemplate = `//! {{.Name}} is a Moss component: it publishes every message it gets on
//! {{.Name}}/in back on {{.Name}}/out, after the configured prefix.
use std::error::Error;

moss::component!(start);

fn start() -> Result<(), Box<dyn Error>> {
    let prefix: String = moss::config_get("prefix").unwrap_or_default();
    moss::subscribe("{{.Name}}/in", move |m| {
        let mut out = prefix.clone().into_bytes();
        out.extend_from_slice(m.payload());
        if let Err(e) = moss::publish("{{.Name}}/out", &out) {
            moss::warn!("publish: {}", e);
        }
    })?;
    moss::info!("{{.Name}} echoing {{.Name}}/in to {{.Name}}/out");
    Ok(())
}
`

const rustBuild = `#!/bin/sh
# Builds {{.Name}}.wasm with the SDK copied into moss-sdk/ (Debian's rustc:
# apt-get install -y rustc libstd-rust-dev-wasm32 lld-14).
set -eu
cd "$(dirname "$0")"
exec moss-sdk/build.sh {{.Name}}.rs -o {{.Name}}.wasm
`

const asTemplate = `// {{.Name}} is a Moss component: it publishes every message it gets on
// {{.Name}}/in back on {{.Name}}/out, after the configured prefix.
import * as moss from "@moss-edge/sdk";

// The host calls these; they must be exported from the entry file.
export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

let prefix = "";

// AssemblyScript has no closures: handlers are top-level functions and
// state lives in module variables.
function onMessage(m: moss.Message): void {
  if (moss.publishText("{{.Name}}/out", prefix + m.text()) < 0) {
    moss.warn("publish: " + moss.lastError());
  }
}

// Returns null when started, or the reason it could not start.
function start(): string | null {
  const p = moss.configString(["prefix"]);
  if (p.ok) prefix = p.value; // a missing key keeps the default
  if (moss.subscribe("{{.Name}}/in", onMessage) < 0) return moss.lastError();
  moss.info("{{.Name}} echoing {{.Name}}/in to {{.Name}}/out");
  return null;
}

// Last: asc refuses globals used before they are declared.
moss.onStart(start);
`

const asBuild = `#!/bin/sh
# Builds {{.Name}}.wasm with the SDK copied into moss-sdk/ (needs node and
# npm; the first build installs the pinned AssemblyScript compiler).
set -eu
cd "$(dirname "$0")"
exec moss-sdk/build.sh {{.Name}}.ts -o {{.Name}}.wasm
`
