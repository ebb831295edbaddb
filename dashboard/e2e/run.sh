#!/usr/bin/env bash
# Browser tests of the dashboard: builds `usagi`, installs the test's one npm dependency
# (playwright-core, which drives Debian's /usr/bin/chromium), runs `node --test`.
# Screenshots go to $USAGI_SCREENSHOTS (default /var/tmp/usagi-screenshots), outside git.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/usagi-target}"
export USAGI_SCREENSHOTS="${USAGI_SCREENSHOTS:-/var/tmp/usagi-screenshots}"
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd ../.. && cargo build -q -p usagi)
export USAGI_BIN="$CARGO_TARGET_DIR/debug/usagi"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
rm -rf "$USAGI_SCREENSHOTS"
status=0
node --test --test-concurrency=1 --test-reporter=spec tests/ || status=$?
echo "screenshots: $USAGI_SCREENSHOTS"
exit "$status"
