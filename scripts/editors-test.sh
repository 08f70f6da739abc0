#!/bin/sh
# Real editors attach to `iris-helper serve --stdio`: headless Neovim (vim.lsp.start_client, 0.7+)
# and Emacs + eglot run iris.status through workspace/executeCommand on a temporary folder that is
# not an IRIS project (autoStart false too), and check the answer and the iris/status notification.
# Exit 0 only if both pass. A missing editor is a failure when CI=true, a skip otherwise
# (install them with scripts/ensure-editors.sh). Builds bin/iris-helper when it is missing.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd -P)

bin="$root/bin/iris-helper"
if [ ! -x "$bin" ] || [ -n "$(find cmd rpc workspace registry dockerops -name '*.go' -newer "$bin" 2>/dev/null | head -1)" ]; then
  echo "editors-test: building $bin"
  make -s build >/dev/null || { echo "editors-test: build failed"; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/iris-editors.XXXXXX") || exit 2
work=$(cd "$work" && pwd -P)
trap 'rm -rf "$work"' EXIT INT TERM
# own registry and port band (docs/architecture.md: editors 34000-34499); never ~/.iris-helper
export IRIS_HELPER_HOME="$work/home" IRIS_HELPER_SUPERSERVER_RANGE=34000-34199 IRIS_HELPER_WEB_RANGE=34200-34399 IRIS_HELPER_EXTRA_RANGE=34400-34419
export XDG_CACHE_HOME="$work/xdg-cache" XDG_STATE_HOME="$work/xdg-state" XDG_DATA_HOME="$work/xdg-data" XDG_CONFIG_HOME="$work/xdg-config"
export IRIS_HELPER="$bin"
mkdir -p "$IRIS_HELPER_HOME"

missing() {
  if [ "${CI:-}" = "true" ]; then echo "FAIL $1 is not installed (CI=true): run scripts/ensure-editors.sh"; return 1; fi
  echo "SKIP $1 is not installed: run scripts/ensure-editors.sh"; return 0
}

rc=0
if command -v nvim >/dev/null 2>&1; then
  mkdir -p "$work/nvim-project"
  PROJECT_DIR="$work/nvim-project" RESULT="$work/nvim-result.json" \
    timeout 90 nvim --headless -u NONE -i NONE -c "luafile $root/test/editors/attach.lua" </dev/null
  n=$?
  if [ $n -ne 0 ]; then
    echo "neovim rc=$n; result:"; cat "$work/nvim-result.json" 2>/dev/null; echo "helper log:"; tail -n 40 "$work/helper-nvim.log" 2>/dev/null
    rc=1
  fi
else
  missing neovim || rc=1
fi

if command -v emacs >/dev/null 2>&1 && ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1; then
  mkdir -p "$work/emacs-project"
  PROJECT_DIR="$work/emacs-project" RESULT="$work/emacs-result.json" \
    timeout 90 emacs --batch -Q -l "$root/test/editors/attach.el" </dev/null
  e=$?
  if [ $e -ne 0 ]; then
    echo "emacs rc=$e; result:"; cat "$work/emacs-result.json" 2>/dev/null; echo "helper log:"; tail -n 40 "$work/helper-emacs.log" 2>/dev/null
    rc=1
  fi
else
  missing "emacs + elpa-eglot" || rc=1
fi

[ $rc -eq 0 ] && echo "editors-test: passed" || echo "editors-test: FAILED"
exit $rc
