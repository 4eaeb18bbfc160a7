#!/usr/bin/env bash
# Install Prometheus (server + promtool) from Debian packages, for local runs and
# integration tests. Idempotent: prints nothing and exits 0 when both `prometheus`
# and `promtool` are already on PATH.
#
# Needs root (or sudo). Runs `apt-get update` only when apt has no install candidate
# for the package yet. The Debian package may start a system service; right after
# installing, this script stops and disables it (we run our own instance with our
# own config instead). Prometheus processes that were already running before the
# install are left alone.
#
# Environment (optional):
#   PROMETHEUS_PACKAGE  Debian package to install (default prometheus)
set -euo pipefail

pkg=${PROMETHEUS_PACKAGE:-prometheus}

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
	exit 0
fi

# Said before anything is installed: this changes the machine, not only the checkout.
echo "install.sh: prometheus and promtool are not on PATH; installing Debian's '$pkg' package system-wide with apt-get (needs root or sudo; set up once)"

command -v apt-get >/dev/null 2>&1 || {
	echo "install.sh: apt-get not found; install Prometheus manually (need prometheus + promtool on PATH)" >&2
	exit 1
}

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "install.sh: must run as root (or with sudo available) to install $pkg" >&2
		exit 1
	}
	sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive

has_candidate() {
	local cand
	cand=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1)
	[ -n "$cand" ] && [ "$cand" != "(none)" ]
}

running_pids() { pgrep -x prometheus 2>/dev/null | sort || true; }

before=$(running_pids)

if ! has_candidate; then
	echo "install.sh: apt-get update"
	"${sudo[@]}" apt-get update -qq >/dev/null
fi
echo "install.sh: apt-get install $pkg"
if ! out=$("${sudo[@]}" apt-get install -y -qq --no-install-recommends "$pkg" 2>&1); then
	printf '%s\n' "$out" | tail -n 30 >&2
	echo "install.sh: apt-get install $pkg failed" >&2
	exit 1
fi

# Stop/disable the service the package may have started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	"${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if command -v service >/dev/null 2>&1; then
	"${sudo[@]}" service prometheus stop >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
	"${sudo[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
# Anything the install started (and `service stop` did not catch): kill by pid,
# never touching prometheus processes that existed before.
sleep 1
for pid in $(comm -13 <(printf '%s\n' "$before") <(running_pids)); do
	"${sudo[@]}" kill "$pid" 2>/dev/null || true
done

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
	echo "install.sh: $pkg installed but prometheus/promtool are not on PATH" >&2
	exit 1
fi
echo "install.sh: $(prometheus --version 2>&1 | head -n 1)"
