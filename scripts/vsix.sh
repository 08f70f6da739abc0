#!/usr/bin/env bash
# Packages the VS Code extension: for each target, cross-compiles the helper (CGO_ENABLED=0) into
# extension/bin/<target>/iris-helper[.exe] (version = the extension's version, so the two agree)
# and runs `vsce package --target <target>` into dist/iris-helper-<target>-<version>.vsix.
# VSIX_TARGETS limits the targets (default: linux-x64 linux-arm64 darwin-x64 darwin-arm64 win32-x64).
# vsce 3.9 comes from the e2e tool cache (scripts/ensure-e2e.sh installs it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${IRIS_HELPER_CACHE:-$HOME/.cache/iris-helper-dev}/vscode-e2e
vsce=$cache/tools/node_modules/@vscode/vsce/vsce
targets=${VSIX_TARGETS:-linux-x64 linux-arm64 darwin-x64 darwin-arm64 win32-x64}
GO=${GO:-go}

if [ ! -f "$vsce" ]; then
  "$root/scripts/ensure-e2e.sh"
fi
version=$(node -p "require('./extension/package.json').version")

(cd extension && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund >/dev/null; } &&
  npx tsc -p . --noEmit && node esbuild.mjs --production)

mkdir -p dist
for t in $targets; do
  os=${t%-*}; arch=${t#*-}; exe=iris-helper
  case $os in win32) goos=windows; exe=iris-helper.exe ;; *) goos=$os ;; esac
  case $arch in x64) goarch=amd64 ;; *) goarch=$arch ;; esac
  rm -rf extension/bin && mkdir -p "extension/bin/$t"
  echo "vsix: build helper $goos/$goarch -> extension/bin/$t/$exe"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch $GO build -trimpath -ldflags "-s -w -X main.version=$version" \
    -o "extension/bin/$t/$exe" ./cmd/iris-helper
  out=$root/dist/iris-helper-$t-$version.vsix
  (cd extension && node "$vsce" package --target "$t" --no-dependencies -o "$out" >/dev/null)
  echo "vsix: $out ($(du -k "$out" | cut -f1) KiB)"
done
rm -rf extension/bin
