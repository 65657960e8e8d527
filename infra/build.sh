#!/usr/bin/env bash
# `make build`: `sam build` of template.yaml, offline and without Docker, into .aws-sam/build.
#
# Every function in template.yaml is built by cargo-lambda (Metadata: BuildMethod:
# rust-cargolambda, BuildProperties: Binary: <crate>) from its crate in functions/<crate>.
# Architecture: the template's default, arm64, unless ARCH=x86_64 is given. arm64 needs the
# aarch64-unknown-linux-gnu Rust target and zig (the ziglang wheel of .venv/build); when the
# target cannot be installed, this script says so and builds x86_64 instead, and the built
# template then only accepts Architecture=x86_64 (so a deploy cannot ship the wrong binaries).
#
# Environment:
#   ARCH=arm64|x86_64   architecture to build (default arm64, the template's default)
#   CARGO_TARGET_DIR    cargo's target dir (default target/lambda, apart from the debug target/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { echo "build: $*" >&2; }
die() { echo "build: error: $*" >&2; exit 1; }
banner() {
  local line="!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  printf '%s\n' "$line" "$@" "$line" >&2
}

started=$(date +%s)
infra/venv.sh build
venv="$root/.venv/build/bin"
# cargo-lambda, zig (python3 -m ziglang) and sam all come from the venv: first on PATH.
export PATH="$venv:$PATH"
export SAM_CLI_TELEMETRY=0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/lambda}"

# ---------------------------------------------------------------- functions: template vs crates
# Binary names the template builds, and the binaries of the crates in functions/*.
mapfile -t wanted < <(sed -n 's/^ *Binary: *\([A-Za-z0-9_-]*\).*$/\1/p' template.yaml | sort -u)
[ "${#wanted[@]}" -gt 0 ] || die "template.yaml has no function with BuildProperties: Binary"
mapfile -t crates < <(
  for manifest in functions/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    # [[bin]] name if the crate declares one, else the package name (src/main.rs).
    awk '/^\[/ { section = $0 }
         /^name *=/ && (section == "[package]" || section == "[[bin]]") {
           gsub(/^name *= *"|".*$/, ""); names[section] = $0 }
         END { print (names["[[bin]]"] != "" ? names["[[bin]]"] : names["[package]"]) }' "$manifest"
  done | sort -u
)
missing=()
for binary in "${wanted[@]}"; do
  printf '%s\n' "${crates[@]}" | grep -qx -- "$binary" || missing+=("$binary")
done
for crate in "${crates[@]}"; do
  printf '%s\n' "${wanted[@]}" | grep -qx -- "$crate" ||
    say "warning: functions/ has a crate '$crate' that template.yaml does not build (not deployed)"
done
if [ "${#missing[@]}" -gt 0 ]; then
  die "template.yaml builds ${missing[*]}, but functions/ has no crate with that binary; add the crate(s) or remove the function(s) from template.yaml"
fi

# ---------------------------------------------------------------- architecture
arch="${ARCH:-arm64}"
case "$arch" in
  arm64 | x86_64) ;;
  *) die "ARCH must be arm64 or x86_64, not '$arch'" ;;
esac
fallback=""
if [ "$arch" = arm64 ]; then
  target=aarch64-unknown-linux-gnu
  have_target() { [ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]; }
  if ! have_target; then
    say "the Rust target $target is not installed; trying: rustup target add $target"
    if command -v rustup > /dev/null; then
      timeout 300 rustup target add "$target" >&2 || true
    fi
  fi
  if ! have_target; then
    fallback="the Rust target $target is not installed and 'rustup target add $target' failed (no download here?)"
  elif ! zig_version=$(python3 -m ziglang version 2> /dev/null); then
    fallback="zig is not available (python3 -m ziglang, from the ziglang wheel in infra/requirements-build.txt)"
  else
    say "arm64: Rust target $target installed, zig $zig_version"
  fi
  if [ -n "$fallback" ]; then
    banner "CANNOT BUILD FOR arm64 (the template's default Architecture): $fallback." \
      "Building for x86_64 instead. Deploy this build ONLY with Architecture=x86_64:" \
      "  sam deploy --parameter-overrides Architecture=x86_64 ... (see docs/deploy.md)"
    arch=x86_64
  fi
fi
if [ "$arch" = x86_64 ]; then
  # Plain cargo (no zig) for the host architecture; the binary needs glibc <= 2.34 (AL2023).
  export CARGO_LAMBDA_COMPILER=cargo
  [ "$(uname -m)" = x86_64 ] || die "x86_64 without zig needs an x86_64 host (this is $(uname -m))"
fi

# ---------------------------------------------------------------- sam build
say "sam build: ${wanted[*]} for $arch (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
sam_started=$(date +%s)
sam build --template-file template.yaml --parameter-overrides "Architecture=$arch"
sam_seconds=$(($(date +%s) - sam_started))

# ---------------------------------------------------------------- check the artifacts
built=.aws-sam/build
python3 - "$built" "$arch" << 'EOF'
import os, re, sys
built, arch = sys.argv[1], sys.argv[2]
machine = {"arm64": 0xB7, "x86_64": 0x3E}[arch]
template = open(os.path.join(built, "template.yaml")).read()
# Logical ids of the built functions: the directories sam build made for them.
functions = sorted(d for d in os.listdir(built) if os.path.isfile(os.path.join(built, d, "bootstrap")))
if not functions:
    sys.exit("build: error: sam build produced no bootstrap")
failed = False
for name in functions:
    path = os.path.join(built, name, "bootstrap")
    data = open(path, "rb").read()
    got = int.from_bytes(data[18:20], "little") if data[:4] == b"\x7fELF" else None
    # glibc symbol versions the binary needs: AL2023 has 2.34.
    glibc = max((tuple(map(int, v.split("."))) for v in re.findall(rb"GLIBC_([0-9.]+)\x00", data) for v in [v.decode()]), default=())
    glibc_text = ".".join(map(str, glibc)) or "none"
    ok = got == machine and glibc <= (2, 34)
    failed |= not ok
    print(f"build: {'ok  ' if ok else 'FAIL'} {name}/bootstrap  {len(data) / 1e6:.2f} MB  "
          f"e_machine={got:#x} (want {machine:#x} for {arch})  needs glibc {glibc_text} (AL2023: 2.34)",
          file=sys.stderr)
# Pin the built template's Architecture parameter to what was built: deploying this build
# with another architecture then fails at parameter validation instead of shipping binaries
# that cannot run.
pattern = re.compile(r"(\n  Architecture:\n(?:    .*\n|      .*\n)*?)(?=  \S|\Z)")
match = pattern.search(template)
if not match:
    sys.exit("build: error: no Architecture parameter in the built template")
block = match.group(1)
lines = [l for l in block.split("\n") if l.strip()]
kept, skip = [], False
for line in lines:
    if re.match(r"    (Default|AllowedValues):", line):
        skip = line.strip().startswith("AllowedValues")
        continue
    if skip and re.match(r"    (  )?- ", line):
        continue
    skip = False
    kept.append(line)
kept[1:1] = [f"    Default: {arch}", "    AllowedValues:", f"      - {arch}"]
template = template.replace(block, "\n" + "\n".join(kept) + "\n", 1)
open(os.path.join(built, "template.yaml"), "w").write(template)
if failed:
    sys.exit("build: error: some binaries do not fit the Lambda runtime (see above)")
EOF

echo "$arch" > "$built/ARCHITECTURE"
say "done in $(($(date +%s) - started)) s (sam build $sam_seconds s): $built/template.yaml, Architecture=$arch"
if [ -n "$fallback" ]; then
  banner "BUILT FOR x86_64, NOT arm64: $fallback." \
    "Deploy with Architecture=x86_64 (the built template accepts nothing else):" \
    "  sam deploy --parameter-overrides Architecture=x86_64 ..." \
    "To build arm64: install the target (rustup target add aarch64-unknown-linux-gnu), run make build again."
fi
