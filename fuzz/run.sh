#!/usr/bin/env bash
# Long fuzzing run of one loader with AFL++ and SharpFuzz (not part of CI).
#   bash fuzz/run.sh TARGET MINUTES     TARGET: safetensors | config | vae-config | tokenizer | pickle | image | index
# Needs: apt-get install afl++; dotnet tool install --global SharpFuzz.CommandLine. Findings go to fuzz/out/TARGET.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=$1; minutes=${2:-30}
export PATH="$PATH:$HOME/.dotnet/tools"
export NEXTSTEP_FUZZ_STORAGES="$here/../../shared/fixtures/tiny/model/vae/checkpoint.pt"   # the pickle target's storages
export NEXTSTEP_FUZZ_MODEL="$here/../../shared/fixtures/tiny/model"                        # the index target's shards
build="$here/out/build-$target"
dotnet publish "$here/NextStep.Fuzz/NextStep.Fuzz.csproj" -c Release -o "$build" -nologo -v quiet 2>&1 | grep -v NU1603 || true
sharpfuzz "$build/NextStep.dll" || true   # prints "already instrumented" on reruns
seeds="$here/out/seeds-$target"; mkdir -p "$seeds"
bash "$here/seeds.sh" "$target" "$seeds"
export AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout $((minutes * 60)) afl-fuzz -i "$seeds" -o "$here/out/$target" -t 10000 -m none -- dotnet "$build/NextStep.Fuzz.dll" "$target" || true
cat "$here/out/$target/default/fuzzer_stats" | grep -E "execs_done|corpus_count|saved_crashes|saved_hangs|run_time|bitmap_cvg"
