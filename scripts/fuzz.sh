#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each, seeded from the shared captures.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; the targets default to every target in fuzz/Cargo.toml
# (a target still a placeholder, whose body ignores its input, is skipped). For each target it
# prints executions, exec/s, coverage (cov/ft of libFuzzer's last stats line), corpus size and
# crashes, and exits non-zero if a crash, timeout, leak or out-of-memory artifact appeared,
# naming the file. Details: docs/fuzzing.md.
#
# What it does:
# - installs cargo-fuzz if missing (`cargo install cargo-fuzz --locked`);
# - builds with the stable toolchain: cargo-fuzz passes -Z flags, which RUSTC_BOOTSTRAP=1
#   lets stable accept. Debug assertions and overflow checks are on. No sanitizer by default:
#   fabmon is safe Rust, and AddressSanitizer costs about 6x in executions per second.
#   FUZZ_SANITIZER=address builds with it (into fuzz/target/asan, so switching does not
#   rebuild the other);
# - builds the seed corpora fuzz/corpus/TARGET (gitignored) from ../shared/ when missing or
#   empty (delete a directory to rebuild it). FABMON_SHARED overrides the shared directory;
# - runs one libFuzzer process at a time (no -jobs/-workers: one in-process worker) with
#   -rss_limit_mb=2048 -timeout=10. Logs: fuzz/logs/TARGET.log; artifacts:
#   fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzz=$root/fuzz

secs=60
if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
elif (($#)) && [[ $1 == -* ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
shared=${FABMON_SHARED:-$root/../shared}
sanitizer=${FUZZ_SANITIZER:-none}

say() { echo "fuzz: $*" >&2; }

# One run at a time per checkout: runs would share corpus directories.
mkdir -p "$fuzz/target" "$fuzz/logs"
exec 9>"$fuzz/target/fuzz.lock"
if ! flock -n 9; then
    say "another scripts/fuzz.sh is running in this checkout"
    exit 1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Targets: the arguments, or every [[bin]] of the fuzz crate.
if (($#)); then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' "$fuzz/Cargo.toml" | grep -vx 'fabmon-fuzz')
fi
run=()
for t in "${targets[@]}"; do
    src=$fuzz/fuzz_targets/$t.rs
    if [ ! -f "$src" ]; then
        say "no target $t (fuzz/fuzz_targets/$t.rs)"
        exit 2
    fi
    # A placeholder takes `_data` and does nothing with it.
    if grep -Eq '\|_data: &\[u8\]\| *\{ *\}' "$src"; then
        say "$t: placeholder target, skipped"
        continue
    fi
    run+=("$t")
done
if ((${#run[@]} == 0)); then
    say "nothing to run"
    exit 0
fi

# Build. The fuzz crate keeps its own target directory (fuzz/target; per sanitizer below it).
fuzz_target_dir=$fuzz/target
if [ "$sanitizer" != none ]; then
    fuzz_target_dir=$fuzz/target/$( [ "$sanitizer" = address ] && echo asan || echo "$sanitizer")
fi
for t in "${run[@]}"; do
    (cd "$fuzz" && env -u CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1 \
        cargo fuzz build --sanitizer "$sanitizer" --target-dir "$fuzz_target_dir" "$t")
done
triple=$(rustc -vV | sed -n 's/^host: //p')
bindir=$fuzz_target_dir/$triple/release

# Seeds, for the targets whose corpus is missing or empty.
need_seeds=()
for t in "${run[@]}"; do
    if [ -z "$(ls -A "$fuzz/corpus/$t" 2>/dev/null)" ]; then
        need_seeds+=("$t")
    fi
done
if ((${#need_seeds[@]})); then
    if [ ! -d "$shared/corpus" ]; then
        say "$shared/corpus is missing: the targets start from an empty corpus"
    else
        say "building seed corpora for ${need_seeds[*]}"
        seeds_target=${CARGO_TARGET_DIR:-$fuzz/target/seeds}
        cargo build --quiet --manifest-path "$fuzz/seeds/Cargo.toml" --target-dir "$seeds_target"
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        mapfile -t captures < <(find "$shared/corpus" "$shared/captures/public" -type f \
            \( -name '*.pcap' -o -name '*.pcapng' \) 2>/dev/null | sort)
        "$seeds_target/debug/fabmon-fuzz-seeds" "$tmp" "${captures[@]}" >/dev/null
        for t in "${need_seeds[@]}"; do
            mkdir -p "$fuzz/corpus/$t"
            if [ -d "$tmp/$t" ]; then
                cp -r "$tmp/$t/." "$fuzz/corpus/$t/"
            fi
            say "$t: $(find "$fuzz/corpus/$t" -type f | wc -l) seeds"
        done
    fi
fi

# A field of libFuzzer's stats line `#N DONE cov: C ft: F corp: ...`.
field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$stats"; }

# Run.
failed=()
printf '%-9s %11s %8s %7s %8s %7s %9s %7s\n' target execs exec/s cov ft corpus corpus_kb crashes
for t in "${run[@]}"; do
    corpus=$fuzz/corpus/$t
    arts=$fuzz/artifacts/$t
    log=$fuzz/logs/$t.log
    mkdir -p "$corpus" "$arts"
    before=$(ls -A "$arts")
    rc=0
    # The outer timeout only guards against a run that would not stop by itself.
    timeout --signal=INT --kill-after=30 $((secs + 300)) \
        "$bindir/$t" "$corpus" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$arts/" >"$log" 2>&1 || rc=$?
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -n 1)
    new=()
    while IFS= read -r a; do
        [ -n "$a" ] && ! grep -qxF "$a" <<<"$before" && new+=("$a")
    done < <(ls -A "$arts")
    bad=()
    for a in "${new[@]}"; do
        case $a in
        crash-* | timeout-* | oom-* | leak-*) bad+=("$a") ;;
        esac
    done
    cov=$(field cov)
    ft=$(field ft)
    printf '%-9s %11s %8s %7s %8s %7s %9s %7s\n' "$t" "${execs:--}" "${eps:--}" "${cov:--}" "${ft:--}" \
        "$(find "$corpus" -type f | wc -l)" "$(du -sk "$corpus" | cut -f1)" "${#bad[@]}"
    for a in "${bad[@]}"; do
        say "$t: ${a%%-*} artifact fuzz/artifacts/$t/$a (reproduce: ${bindir#"$root"/}/$t fuzz/artifacts/$t/$a)"
        failed+=("fuzz/artifacts/$t/$a")
    done
    for a in "${new[@]}"; do
        case $a in slow-unit-*) say "$t: slow input fuzz/artifacts/$t/$a (not a failure)" ;; esac
    done
    if ((rc != 0 && ${#bad[@]} == 0)); then
        say "$t: libFuzzer exited with status $rc and no artifact; see fuzz/logs/$t.log"
        failed+=("$t: exit $rc")
    fi
done

if ((${#failed[@]})); then
    say "FAILED (sanitizer: $sanitizer): ${failed[*]}"
    exit 1
fi
say "ok: ${#run[@]} targets, ${secs} s each (sanitizer: $sanitizer)"
