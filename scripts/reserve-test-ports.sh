#!/usr/bin/env bash
# The tests bind fixed loopback port bands between 20000 and 36999 (each test its own band; see
# the port constants in the *_test.go files, extension/test/e2e/run.js and editors-test.sh).
# From 32768 up those bands lie in the kernel's default ephemeral range, so an outgoing connection
# of any process (docker-proxy, a readiness check, the browser) may hold one of them for a moment,
# and a test that expects its port free sees it taken. Reserving the bands keeps the kernel from
# handing them out as ephemeral ports; binding them explicitly still works. Needs root; without it
# the tests still run, a little more exposed to such collisions, and this says so.
set -u
band=20000-36999
f=/proc/sys/net/ipv4/ip_local_reserved_ports
current=$(cat "$f" 2>/dev/null || true)
case ",$current," in
  *",$band,"*) exit 0 ;;
esac
want=$band
[ -n "$current" ] && want="$current,$band"
if { echo "$want" > "$f"; } 2>/dev/null; then
  echo "reserve-test-ports: kept the test port band $band out of the kernel's ephemeral ports ($f)"
else
  echo "reserve-test-ports: could not write $f (not root?); test ports $band may collide with ephemeral ports of other processes" >&2
fi
exit 0
