#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls this script).
#
# Installs what the tests need and is missing (Debian packages: tshark for the differential
# tests, tcpdump, iproute2 for the live-capture tests, tmux for the console tests), then runs every
# test of the workspace. Tests read the shared corpus from ../shared/ beside the checkout. Ends with
# a brief fuzzing pass (scripts/fuzz.sh, 10 s per target; FABMON_FUZZ_SECONDS changes it, 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if ((${#need_apt[@]})); then
    echo "test-all: installing ${need_apt[*]}" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # tshark's package asks whether non-root users may capture: answer no, without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# pyarrow reads the Parquet dataset back in tests/dataset.rs (an implementation other than ours).
if ! python3 -c 'import pyarrow' >/dev/null 2>&1; then
    echo "test-all: installing pyarrow" >&2
    python3 -m pip install -q pyarrow || python3 -m pip install -q --break-system-packages pyarrow
fi

if [ ! -d ../shared/corpus ]; then
    echo "test-all: ../shared/ (corpus, public captures, scorers) is missing beside the checkout" >&2
    exit 1
fi

export FABMON_REQUIRE_TOOLS=1
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --cargo-profile ci --no-fail-fast
else
    cargo test --workspace --profile ci --no-fail-fast
fi
cargo test --workspace --profile ci --doc

# A brief fuzzing pass over every target (docs/fuzzing.md has the figures of a longer run):
# catches a decoder that panics on inputs near the seed corpus. FABMON_FUZZ_SECONDS=0 skips it.
fuzz_secs=${FABMON_FUZZ_SECONDS:-10}
if [ "$fuzz_secs" != 0 ]; then
    bash scripts/fuzz.sh "$fuzz_secs"
fi
