#!/usr/bin/env bash
# Builds what a machine without a Rust toolchain installs, into target/dist:
#   int-check-VERSION-x86_64-linux-static   one statically linked binary (no shared libraries)
#   int-check_VERSION-1_amd64.deb           that binary, man pages, bash/zsh/fish completions,
#                                           README, licence and an example config
# Needs: the Rust toolchain, glibc's static libraries (libc6-dev, with gcc) and cargo-deb
# (installed here with `cargo install cargo-deb --locked` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
out=target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

echo "== static binary (glibc, +crt-static)"
# Only the target's code is linked statically (--target keeps build scripts and proc macros
# dynamic, as they must be).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "$target"
binary="target/$target/release/int-check"
if ldd "$binary" 2>&1 | grep -q '=>'; then
  echo "error: $binary links shared libraries:" >&2
  ldd "$binary" >&2
  exit 1
fi

echo "== man pages and completions"
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
"$binary" man --out "$out/man"
gzip -9n "$out"/man/*.1
"$binary" completions bash > "$out/completions/int-check"
"$binary" completions zsh > "$out/completions/_int-check"
"$binary" completions fish > "$out/completions/int-check.fish"
cp "$binary" "$out/int-check-$version-x86_64-linux-static"

echo "== Debian package"
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
cargo deb --no-build --no-strip --target "$target" --output "$out/"

ls -l "$out"
