#!/usr/bin/env bash
# `cpack -G DEB` builds a package with the binary, templates, README and licence and declared runtime
# dependencies; as root it is installed with apt and run, otherwise unpacked and run.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
: "${MQTTPKI_BUILD_DIR:?}"
command -v cpack >/dev/null 2>&1 || skip "cpack not installed"
command -v dpkg-shlibdeps >/dev/null 2>&1 || skip "dpkg-dev not installed"
expect_ok "cpack -G DEB" cpack -G DEB --config "$MQTTPKI_BUILD_DIR/CPackConfig.cmake" -B "$T/pkg"
deb=$(ls "$T"/pkg/mqttpki_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { fail "no mqttpki_*.deb built: $(cat "$T/.err")"; finish; exit 1; }
dpkg-deb -c "$deb" >"$T/contents"
expect_match "package has the binary" "\./usr/bin/mqttpki$" "$T/contents"
expect_match "package has the templates" "\./usr/share/mqttpki/templates/mosquitto-tls.conf$" "$T/contents"
expect_match "package has the README" "\./usr/share/doc/mqttpki/README.md$" "$T/contents"
expect_match "package has the licence" "\./usr/share/doc/mqttpki/LICENSE$" "$T/contents"
dpkg-deb -f "$deb" Depends >"$T/depends"
expect_match "runtime dependency on OpenSSL's library declared" "libssl3" "$T/depends"
expect_match "runtime dependency on libfmt declared" "libfmt9" "$T/depends"

if [ "$(id -u)" = 0 ] && [ "${CI:-}" = true ] && command -v apt-get >/dev/null 2>&1; then
  # CI machines are throwaway: install it for real, as a user would, and remove it again.
  expect_ok "apt install ./mqttpki_*.deb" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
  bin=/usr/bin/mqttpki
else
  dpkg-deb -x "$deb" "$T/root"
  bin="$T/root/usr/bin/mqttpki"
fi
expect_ok "installed mqttpki --version" "$bin" --version
expect_match "version printed" "^mqttpki [0-9]+\.[0-9]+\.[0-9]+" "$T/.out"
expect_ok "installed mqttpki template list" "$bin" template list
expect_match "templates listed" "mosquitto-tls" "$T/.out"
if [ "$bin" = /usr/bin/mqttpki ]; then
  expect_ok "apt remove mqttpki" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq mqttpki
fi
finish
