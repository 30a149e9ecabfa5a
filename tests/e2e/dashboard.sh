#!/bin/sh
# dashboard.sh - the dashboard (www/) in Debian's headless Chromium,
# driven by playwright-core (tests/node/dashboard.mjs), against a dev unit
# started as `make run` does.  The screenshot goes to
# build/test-output/dashboard.png.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
if [ ! -x /usr/bin/chromium ]; then
	skip "browser" "/usr/bin/chromium absent (Debian package chromium)"; exit 0
fi
if [ ! -d tests/node/node_modules/playwright-core ]; then
	skip "browser" "playwright-core not installed (tests/deps.sh runs npm ci)"; exit 0
fi
unit_start || { fail "unit starts"; exit 1; }
mkdir -p build/test-output
UNIT_URL=$UNIT_URL UNIT_CONF=$UNIT_CONF UNIT_VAR=$UNIT_VAR TOP=$TOP \
    OUT=$TOP/build/test-output node tests/node/dashboard.mjs
