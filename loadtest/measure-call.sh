#!/usr/bin/env bash
# Server CPU, RSS and CPU per datagram during one class of bots, for docs/benchmarks.md.
# Until the loadtest measures the server itself (next issue), this samples /proc/PID/stat and
# /metrics around a window in the middle of a `class` run. Build first:
#   cargo build --release -p aula-signaling -p aula-loadtest
# usage: loadtest/measure-call.sh STUDENTS DURATION_S WINDOW_S   (e.g. 2 25 15)
set -euo pipefail
cd "$(dirname "$0")/.."
S=$1; D=$2; W=$3
./target/release/aula --http-addr 127.0.0.1:18082 --media-port 20002 --media-ips 127.0.0.1 --room-creation open --log warn > /tmp/aula-m.log 2>&1 &
PID=$!; sleep 1
./target/release/aula-loadtest class --server http://127.0.0.1:18082 --students $S --duration ${D}s > /tmp/lt-m.log 2>&1 &
LT=$!
sleep 6
m() { curl -s localhost:18082/metrics | awk -v k=$1 '$1==k {print $2}'; }
a=$(awk '{print $14+$15}' /proc/$PID/stat); o0=$(m aula_udp_datagrams_out_total); i0=$(m aula_udp_datagrams_in_total); t0=$(date +%s.%N)
sleep $W
b=$(awk '{print $14+$15}' /proc/$PID/stat); o1=$(m aula_udp_datagrams_out_total); i1=$(m aula_udp_datagrams_in_total); t1=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
lt_cpu=$(awk '{print $14+$15}' /proc/$LT/stat)
python3 - <<PY
cpu=($b-$a)/100; dt=$t1-$t0; out=$o1-$o0; inn=$i1-$i0
print(f"participants={1+$S} window={dt:.1f}s server_cpu={cpu/dt*100:.1f}% of one core rss={$rss/1024:.1f} MiB")
print(f"datagrams in/s={inn/dt:.0f} out/s={out/dt:.0f} cpu_us_per_datagram_out={cpu*1e6/out:.1f} cpu_us_per_datagram_in+out={cpu*1e6/(out+inn):.1f}")
PY
wait $LT || true
tail -1 /tmp/lt-m.log
kill $PID; wait $PID 2>/dev/null || true
