#!/usr/bin/env bash
# System packages the tests and tooling need (Debian, as root). Idempotent: installs only what is
# missing, and runs `apt-get update` only when something must be installed.
#   prometheus  /usr/bin/prometheus and /usr/bin/promtool for infra/ tests (the system service
#               is not started here: tests run their own processes)
#   chromium    headless browser for the real-browser test of `whistle report --format html`
#   fonts-wqy-microhei  a CJK font, so Chinese names render in that browser's screenshots
set -euo pipefail

PACKAGES=(prometheus chromium fonts-wqy-microhei)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system deps: all present (${PACKAGES[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "system deps: missing ${missing[*]}; run as root" >&2
    exit 1
fi

echo "system deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d answering 101 keeps apt from starting the packages' services.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
