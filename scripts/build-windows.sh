#!/usr/bin/env bash
# Cross-builds poolsleuth.exe for 64-bit Windows (x86_64-pc-windows-gnu) on Debian/Ubuntu with
# mingw-w64, and copies it to dist/windows/poolsleuth.exe.
#
#   scripts/build-windows.sh            # release build (what to ship)
#   scripts/build-windows.sh --debug    # debug build (faster; what CI runs under Wine)
#
# Needs: rustup (the target is added if missing) and Debian's mingw-w64 (the linker, and the C
# compiler ring's assembly needs): `apt-get install mingw-w64`.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
profile=release
if [ "${1:-}" = "--debug" ]; then profile=debug; fi

if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  echo "x86_64-w64-mingw32-gcc not found: install Debian's mingw-w64 (apt-get install mingw-w64)" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

start=$(date +%s)
if [ "$profile" = release ]; then
  cargo build --release --locked --target "$target" --bin poolsleuth
else
  cargo build --locked --target "$target" --bin poolsleuth
fi
mkdir -p dist/windows
cp "target/$target/$profile/poolsleuth.exe" dist/windows/poolsleuth.exe
echo "built dist/windows/poolsleuth.exe ($profile, $(du -h dist/windows/poolsleuth.exe | cut -f1)) in $(( $(date +%s) - start )) s"
