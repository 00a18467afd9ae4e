#!/usr/bin/env bash
# The .deb as a fresh Debian 12 would get it: metadata (name, library
# dependencies, conffile, maintainer scripts), the unit and config it ships,
# and the installed tollgated started with the installed config (its
# /run and /var/lib paths moved into a temp dir) answering PING.
# Usage: deb_test.sh PACKAGE_DIR
set -euo pipefail
dir=${1:?package directory}
deb=$(ls -t "$dir"/tollgate_*.deb | head -1)
tmp=$(mktemp -d /tmp/tgdeb.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/log" ] && cat "$tmp/log" >&2; exit 1; }

info=$(dpkg-deb -I "$deb")
grep -q '^ Package: tollgate$' <<<"$info" || fail "package name"
for lib in libuv1 libhiredis libyaml-cpp libsystemd0 libspdlog libcctz adduser; do
  grep -q "^ Depends:.*$lib" <<<"$info" || fail "Depends lacks $lib"
done
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "architecture"
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
grep -qx '/etc/tollgate/tollgate.yaml' "$tmp/control/conffiles" || fail "conffile"
grep -q 'adduser --system' "$tmp/control/postinst" || fail "postinst creates the tollgate user"

dpkg-deb -x "$deb" "$tmp/root"
root=$tmp/root
for f in usr/bin/tollgated usr/bin/tollgate usr/bin/tollgate-load usr/bin/tollgate-replay etc/tollgate/tollgate.yaml \
         usr/lib/systemd/system/tollgated.service usr/share/doc/tollgate/README.md; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
unit=$root/usr/lib/systemd/system/tollgated.service
for line in 'Type=notify' 'ExecStart=/usr/bin/tollgated --config /etc/tollgate/tollgate.yaml' \
            'RuntimeDirectory=tollgate' 'StateDirectory=tollgate' 'ProtectSystem=strict' 'NoNewPrivileges=yes'; do
  grep -qx "$line" "$unit" || fail "unit lacks $line"
done

# The installed config, its systemd directories moved into the temp dir.
sed -e "s|/run/tollgate|$tmp/run|g" -e "s|/var/lib/tollgate|$tmp/state|g" \
  "$root/etc/tollgate/tollgate.yaml" > "$tmp/tollgate.yaml"
grep -q "$tmp/run/tollgate.sock" "$tmp/tollgate.yaml" || fail "config paths"
"$root/usr/bin/tollgated" --check-config "$tmp/tollgate.yaml" >/dev/null || fail "installed config rejected"
(cd / && exec "$root/usr/bin/tollgated" --config "$tmp/tollgate.yaml") >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do
  [ "$(redis-cli -s "$tmp/run/tollgate.sock" PING 2>/dev/null)" = PONG ] && break
  kill -0 "$pid" 2>/dev/null || fail "tollgated exited"
  sleep 0.02
done
[ "$(redis-cli -s "$tmp/run/tollgate.sock" PING)" = PONG ] || fail "no PONG"
[ -d "$tmp/state" ] || fail "state directory not created"
"$root/usr/bin/tollgate" --socket "$tmp/run/tollgate.sock" --admin-socket "$tmp/run/admin.sock" --help >/dev/null \
  || fail "installed CLI"
"$root/usr/bin/tollgate-replay" --help | grep -q -- '--config' || fail "installed tollgate-replay"
kill -TERM "$pid"
wait "$pid" || fail "tollgated exit status $?"
pid=
echo "ok: $deb"
