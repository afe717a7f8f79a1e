#!/usr/bin/env bash
# The .deb installs into a scratch root and works from there: `cpack -G DEB`
# in the build tree, `dpkg-deb -x` into a temp dir, then the installed
# binary's --help and version, its man page, its bash completion (driven
# like the shell does), and the scenarios it ships.
# usage: package_test.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/tk-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" >cpack.log 2>&1) || { cat "$tmp/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$tmp"/ticketctl_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no .deb produced"
dpkg-deb -I "$deb" >"$tmp/control.txt" # to a file: grep -q in a pipe would SIGPIPE dpkg-deb under pipefail
grep -q 'Depends:.*libhiredis' "$tmp/control.txt" || fail "the package does not depend on the runtime libraries"
root=$tmp/root
dpkg-deb -x "$deb" "$root"
bin=$root/usr/bin/ticketctl
[ -x "$bin" ] || fail "no usr/bin/ticketctl in the package"

"$bin" --help >"$tmp/help.txt" && grep -q '^usage: ticketctl <command>' "$tmp/help.txt" || fail "ticketctl --help"
"$bin" version --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["version"] and d["libraries"]["libevent"]["built"]' \
  || fail "ticketctl version --json"
man1=$root/usr/share/man/man1/ticketctl.1
[ -s "$man1" ] || fail "no man page"
grep -q '^\.TH TICKETCTL 1' "$man1" || fail "man page header"
grep -q '^\.SS bench' "$man1" || fail "man page lacks the bench command"
grep -q 'think\\-time' "$man1" || fail "man page lacks bench's options (from its option table)"
if command -v groff >/dev/null; then
  warn=$(groff -man -Tutf8 -ww -z "$man1" 2>&1 || true)
  [ -z "$warn" ] || fail "groff warns about the man page: $warn"
fi

comp=$root/usr/share/bash-completion/completions/ticketctl
[ -s "$comp" ] || fail "no bash completion"
words=$(PATH="$root/usr/bin:$PATH" bash -c '
  source "$1"
  COMP_WORDS=(ticketctl be); COMP_CWORD=1; _ticketctl; echo "${COMPREPLY[*]}"
  COMP_WORDS=(ticketctl dev ""); COMP_CWORD=2; _ticketctl; echo "${COMPREPLY[*]}"
  COMP_WORDS=(ticketctl dev up ""); COMP_CWORD=3; _ticketctl; echo "${COMPREPLY[*]}"
  COMP_WORDS=(ticketctl bench --thr); COMP_CWORD=2; _ticketctl; echo "${COMPREPLY[*]}"' _ "$comp")
echo "$words" | sed -n 1p | grep -qx 'bench' || fail "completing 'ticketctl be' gave: $(echo "$words" | sed -n 1p)"
echo "$words" | sed -n 2p | grep -qw 'up' || fail "completing 'ticketctl dev' lacks 'up'"
echo "$words" | sed -n 3p | grep -qw -- '--instances' || fail "completing 'ticketctl dev up' lacks '--instances'"
echo "$words" | sed -n 4p | grep -q -- '--threads.*--threshold\|--threshold.*--threads' || fail "completing 'bench --thr' gave: $(echo "$words" | sed -n 4p)"
[ -s "$root/usr/share/zsh/vendor-completions/_ticketctl" ] || fail "no zsh completion"

"$bin" scenario list --dir "$root/usr/share/ticketctl/scenarios" >"$tmp/scen.txt" && grep -q 'flash-sale' "$tmp/scen.txt" || fail "shipped scenarios"
echo "package: $(basename "$deb") installs and runs from a scratch root"
echo "1 passed, 0 failed"
