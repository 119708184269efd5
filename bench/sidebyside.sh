#!/usr/bin/env bash
# Side by side with Centrifugo v6.9.1: the scenarios of the fan-out
# comparison (bench/README.md, "Side by side with Centrifugo v6.9.1"),
# each run against the ssot-ws bench server (the chat example's generated
# handlers and the gateway, publishing through CreateMessage) and against
# Centrifugo (publishing through its HTTP API), interleaved, with the
# server pinned to one CPU and the load generator to another. Prints one
# table at the end.
#
#   bench/sidebyside.sh                       # every scenario, REPEAT times
#   SCENARIOS="saturation idle" bench/sidebyside.sh
#
# Environment:
#   SCENARIOS   scenarios to run, in order (default: all, see below)
#   REPEAT      runs of each scenario per server (default 2)
#   CENTRIFUGO  a Centrifugo binary to use instead of installing v6.9.1
#   WORKDIR     where to put the binaries and results (default: a new
#               temporary directory); results.jsonl there accumulates, so a
#               second invocation with the same WORKDIR adds runs to the table
#   SERVER_CPU, CLIENT_CPU   CPU of the server and of the load generator
#               (default 0 and 1)
#   LOCK        a file to flock(1) exclusively around each single run, so
#               that other benchmarks on a shared machine do not overlap
#   IDLE_MAX    the largest idle connection count (default 19000: with a
#               hard RLIMIT_NOFILE of 20000 a process cannot hold more)
#   PUBLISHERS  apart (default): the publishers run in a process of their
#               own, so that an acknowledgement does not wait in the load
#               generator's run queue behind its subscribers' reads
#               (bench/README.md, "Pacing at saturation"); together: in the
#               load generator's process, as before
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-2}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
IDLE_MAX=${IDLE_MAX:-19000}
PUBLISHERS=${PUBLISHERS:-apart}
case $PUBLISHERS in
apart) pubflags=(-publisher-process) ;;
together) pubflags=() ;;
*)
  echo "sidebyside: PUBLISHERS is apart or together, not $PUBLISHERS" >&2
  exit 2
  ;;
esac
SCENARIOS=${SCENARIOS:-"normal1k normal5k rooms saturation saturation5k creates acks idle large"}
if [ "$SERVER_CPU" = "$CLIENT_CPU" ] || ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$CLIENT_CPU" true 2>/dev/null; then
  echo "sidebyside: needs taskset and two distinct CPUs (SERVER_CPU=$SERVER_CPU, CLIENT_CPU=$CLIENT_CPU)" >&2
  exit 2
fi
for s in $SCENARIOS; do
  case $s in
  normal1k | normal5k | rooms | saturation | saturation5k | creates | acks | queue | idle | large) ;;
  *)
    echo "sidebyside: unknown scenario $s" >&2
    exit 2
    ;;
  esac
done
WORKDIR=${WORKDIR:-$(mktemp -d -t sidebyside.XXXXXX)}
mkdir -p "$WORKDIR"
results=$WORKDIR/results.jsonl

if [ -z "${CENTRIFUGO:-}" ]; then
  CENTRIFUGO=$WORKDIR/gobin/centrifugo
  if [ ! -x "$CENTRIFUGO" ]; then
    echo "== installing Centrifugo v6.9.1 into $WORKDIR/gobin" >&2
    GOBIN=$WORKDIR/gobin GOFLAGS=-mod=mod go install github.com/centrifugal/centrifugo/v6@v6.9.1
  fi
fi
echo "== building the load generator" >&2
go build -o "$WORKDIR/fanout" ./bench/fanout

# run LABEL FANOUT-ARGS...: one run of each server, ssot-ws first.
run() {
  local label=$1
  shift
  for target in ssotws centrifugo; do
    local cmd=(taskset -c "$CLIENT_CPU" "$WORKDIR/fanout" -target "$target" -centrifugo-bin "$CENTRIFUGO"
      -server-cpus "$SERVER_CPU" -label "$label" -json "$results" "${pubflags[@]}" "$@")
    echo "== $(date -u +%H:%M:%S) $target: $label; uptime:$(uptime | sed 's/.*load average/ load average/')" >&2
    if [ -n "${LOCK:-}" ]; then
      flock -w 900 "$LOCK" "${cmd[@]}" >/dev/null
    else
      "${cmd[@]}" >/dev/null
    fi
  done
}

scenario() {
  case $1 in
  normal1k) run "1,000 subscribers, 100 msg/s" -n 1000 -rate 100 ;;
  normal5k) run "5,000 subscribers, 20 msg/s" -n 5000 -rate 20 ;;
  rooms) run "100 channels × 50 subscribers, 1,000 msg/s" -n 5000 -channels 100 -rate 1000 ;;
  saturation) run "1,000 subscribers, 600 msg/s offered (saturation)" -n 1000 -rate 600 -workers 16 ;;
  saturation5k)
    # The same 600,000 deliveries/s offered over 5,000 connections: five
    # times the messages at the same packing. With the acknowledgement at
    # the same rate and no subscribers.
    run "5,000 subscribers, 120 msg/s offered (saturation)" -n 5000 -rate 120 -workers 16
    run "no subscribers, 120 msg/s offered" -n 0 -rate 120 -workers 16
    ;;
  acks)
    # The publish rates of normal1k and saturation with no subscribers:
    # the acknowledgement at the same offered rate with and without a
    # fan-out to 1,000 subscribers.
    run "no subscribers, 100 msg/s" -n 0 -rate 100
    run "no subscribers, 600 msg/s offered" -n 0 -rate 600 -workers 16
    ;;
  creates)
    run "16 publishers, no subscribers" -n 0 -rate 100000 -workers 16
    run "16 publishers, 1,000 subscribers" -n 1000 -rate 100000 -workers 16
    ;;
  queue)
    # Not run by default since the send queue is bounded in bytes (1 MiB,
    # 8192 frames). Before that, ssot-ws closed a subscriber whose send
    # queue (then 256 events) overflowed; Centrifugo's queue holds 1 MiB, about 6,200 of these
    # 168-byte publications. The same two scenarios with an ssot-ws queue
    # of about the same size (-send-queue applies to the ssot-ws server
    # only; Centrifugo runs as above).
    run "1,000 subscribers, 600 msg/s offered, ssot-ws SendQueue 6400" -n 1000 -rate 600 -workers 16 -send-queue 6400
    run "16 publishers, 1,000 subscribers, ssot-ws SendQueue 6400" -n 1000 -rate 100000 -workers 16 -send-queue 6400
    ;;
  idle)
    for n in 1000 5000 10000; do
      run "$n idle connections" -n "$n" -dur 0
    done
    ;;
  large)
    run "10,000 subscribers, 10 msg/s" -n 10000 -rate 10
    run "$IDLE_MAX idle connections" -n "$IDLE_MAX" -dur 0
    ;;
  esac
}

for ((i = 1; i <= REPEAT; i++)); do
  for s in $SCENARIOS; do
    scenario "$s"
  done
done

echo "== results: $results" >&2
"$WORKDIR/fanout" -report "$results"
