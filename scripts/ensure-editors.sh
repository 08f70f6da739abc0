#!/usr/bin/env bash
# Installs the headless editors the editor-attach tests drive: Neovim and Emacs + eglot (Debian packages).
set -euo pipefail
need=()
command -v nvim >/dev/null 2>&1 || need+=(neovim)
command -v emacs >/dev/null 2>&1 || need+=(emacs-nox)
[ -d /usr/share/emacs/site-lisp/elpa/eglot-1.9 ] || ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1 || need+=(elpa-eglot)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-editors: missing ${need[*]}; install them (Debian: apt-get install ${need[*]}) and re-run." >&2
  exit 1
fi
"$(dirname "$0")/apt-install.sh" "${need[@]}"
