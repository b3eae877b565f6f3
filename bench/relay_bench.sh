#!/bin/bash
# Whole-server benchmark, relaying (issue 3): smtp-source -> server ->
# smtp-sink, Tern and Postfix (relayhost = the sink) side by side in the same
# run, and smtp-source -> smtp-sink directly as the ceiling.  The clock stops
# when the sink has received every message.  Run as root:
#   bench/relay_bench.sh          (see bench/README.md)
#
# Environment (and those of smtp_bench.sh: TERN_BUILD, BENCH_QUICK,
# BENCH_MESSAGES, BENCH_REUSE, BENCH_REPEAT, BENCH_POSTFIX_LOG, BENCH_KEEP,
# BENCH_TMPDIR):
#   BENCH_SESSIONS     sessions to try (default "20")
#   BENCH_SIZES        payload sizes   (default "4096")
#   BENCH_SERVERS      rows to run     (default "smtp-sink Postfix Tern")
#   BENCH_RELAY_MODE   how Tern reaches the sink:
#       relay  [relay] host = "127.0.0.2:PORT", tls = "none"  (like Postfix's relayhost)
#       mx     [dns] servers = a loopback unbound serving "remote.test MX -> 127.0.0.2",
#              [delivery] port = PORT  (Tern's MX routing)
#       auto   relay, else mx (default)
#   Tern is skipped, with the reason, if its config has neither yet.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_enter_netns "$0" "$@"
bench_counts
bench_setup_tmp

PORT_TERN=2525
PORT_POSTFIX=2526
SINK_HOST=127.0.0.2
SINK_PORT=2527
SINK_ADDR=$SINK_HOST:$SINK_PORT
DNS_PORT=5353
RCPT=bench@remote.test
SESSIONS=${BENCH_SESSIONS:-"20"}
SIZES=${BENCH_SIZES:-"4096"}
SERVERS=${BENCH_SERVERS:-"smtp-sink Postfix Tern"}
MODE=${BENCH_RELAY_MODE:-auto}
RESULTS=$BENCH_TMP/results.tsv
COUNTER=$BENCH_TMP/sink.counter
REUSE=()
[[ ${BENCH_REUSE:-1} = 1 ]] && REUSE=(--reuse)
: >"$RESULTS"

want() { [[ " $SERVERS " == *" $1 "* ]]; }

log "temporary directory: $BENCH_TMP"
BUSY_BEFORE=$(machine_busy_pct)
((BUSY_BEFORE < 10)) || log "warning: the machine is already ${BUSY_BEFORE}% busy; figures will be low and noisy"
log "messages: $BENCH_MESSAGES x 4 KiB ($BENCH_MESSAGES_LARGE if larger than 16 KiB); sessions: $SESSIONS"

# One sink for the whole run; each case counts from the sink's count at its start.
sink_start "$SINK_ADDR" "$COUNTER"
sink_now() { sink_count "$COUNTER"; }

# probe_relay NAME PORT: one message through the server to the sink.
probe_relay() {
    local name=$1 port=$2 before r
    before=$(sink_now)
    r=$(probe_send 127.0.0.1 "$port" "$RCPT") || { echo "$name refused the probe: $r"; return 1; }
    wait_for_count $((before + 1)) 30 sink_now \
        || { echo "$name accepted the probe but the sink did not get it within 30 s"; return 1; }
}

# ---- Postfix
PF=$BENCH_TMP/postfix
if want Postfix; then
    postfix_setup "$PF" "$PORT_POSTFIX" relay "$SINK_ADDR"
    postfix_start "$PF" "$PORT_POSTFIX"
    why=$(probe_relay Postfix "$PORT_POSTFIX") || die "$why (see $PF/maillog, BENCH_KEEP=1)"
    postfix_wait_empty "$PF" 20 || true
    log "Postfix $(postconf -d -h mail_version) up on 127.0.0.1:$PORT_POSTFIX, relayhost [$SINK_HOST]:$SINK_PORT"
fi

# ---- Tern
TERN=$BENCH_TMP/tern
TERN_OK=0
TERN_WHY=""
TERN_MODE=""
tern_config() { # mode -> config on stdout
    local mode=$1
    tern_base_config "$TERN/var" "$PORT_TERN" 'trusted_networks = ["127.0.0.0/8"]'
    case $mode in
    relay)
        printf '\n[relay]\nhost = "%s"\ntls = "none"\n' "$SINK_ADDR" ;;
    mx)
        printf '\n[dns]\nservers = ["127.0.0.1:%s"]\n\n[delivery]\nport = %s\ntls = "none"\n' "$DNS_PORT" "$SINK_PORT" ;;
    esac
}
tern_try() { # mode: starts ternd in that mode and probes it
    local mode=$1 why
    rm -rf "$TERN" && mkdir -p "$TERN"
    if [[ $mode = mx && -z $UNBOUND_PID ]]; then
        unbound_start "$BENCH_TMP/unbound" 127.0.0.1 "$DNS_PORT" "$(cat <<EOF
    local-zone: "remote.test." static
    local-data: "remote.test. 3600 IN MX 10 mx.remote.test."
    local-data: "mx.remote.test. 3600 IN A $SINK_HOST"
EOF
)" || { TERN_WHY+="mx: unbound did not start; "; return 1; }
    fi
    tern_config "$mode" >"$TERN/tern.toml"
    if ! tern_start "$TERN/tern.toml" "$TERN/ternd.log" "$PORT_TERN"; then
        TERN_WHY+="$mode: ternd rejected the config or did not start: $(grep -m1 -i 'error\|unknown\|expected' "$TERN/ternd.log" | cut -c1-200); "
        return 1
    fi
    if ! why=$(probe_relay Tern "$PORT_TERN"); then
        TERN_WHY+="$mode: $why; "
        tern_stop
        return 1
    fi
    TERN_MODE=$mode
}
if want Tern; then
    if [[ ! -x $TERND ]]; then
        TERN_WHY="no ternd at $TERND (build it, or set TERN_BUILD)"
    else
        case $MODE in
        auto) modes="relay mx" ;;
        relay | mx) modes=$MODE ;;
        *) die "BENCH_RELAY_MODE must be relay, mx or auto" ;;
        esac
        for m in $modes; do
            if tern_try "$m"; then TERN_OK=1; break; fi
        done
    fi
    if ((TERN_OK)); then
        log "Tern ($TERND) up on 127.0.0.1:$PORT_TERN, relaying via $TERN_MODE"
    else
        log "Tern: skipped: ${TERN_WHY%; }"
    fi
fi

tern_alive() {
    ((TERN_OK)) || return 1
    if ! kill -0 "$TERN_PID" 2>/dev/null; then
        TERN_OK=0
        TERN_WHY="ternd died during the run"
        log "Tern: ternd exited during the run; last log lines:"
        tail -n 20 "$TERN/ternd.log" | sed 's/^/    | /' >&2
        return 1
    fi
}

settle() { sync; sleep "${BENCH_SETTLE:-2}"; }
timeout_for() { local n=$1; echo $((60 + n / 20)); }

run() { # server target sessions size messages server-pid
    local server=$1 target=$2 sess=$3 size=$4 n=$5 pid=$6
    "$PY" "$BENCH_HOME/run_case.py" --server "$server" --target "$target" \
        --sessions "$sess" --size "$size" --messages "$n" "${REUSE[@]}" \
        --rcpt-to "$RCPT" --sink "$COUNTER" --baseline "$(sink_now)" --server-pid "$pid" \
        --smtp-source "$SMTP_SOURCE" --timeout "$(timeout_for "$n")" \
        --log "$BENCH_TMP/smtp-source.log" --results "$RESULTS" || true
}
skip_row() { printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\tskipped\n' "$@" >>"$RESULTS"; }

for size in $SIZES; do
    n=$BENCH_MESSAGES
    ((size > 16384)) && n=$BENCH_MESSAGES_LARGE
    for sess in $SESSIONS; do
        for ((rep = 1; rep <= ${BENCH_REPEAT:-1}; rep++)); do
            log "case: $sess session(s), $size-byte messages, $n messages (run $rep)"
            if want smtp-sink; then
                run smtp-sink "$SINK_ADDR" "$sess" "$size" "$n" "$SINK_PID"
                settle
            fi
            if want Postfix; then
                run Postfix "127.0.0.1:$PORT_POSTFIX" "$sess" "$size" "$n" "$(postfix_master_pid "$PF")"
                postfix_wait_empty "$PF" 120 || true
                settle
            fi
            if want Tern; then
                if tern_alive; then
                    run Tern "127.0.0.1:$PORT_TERN" "$sess" "$size" "$n" "$TERN_PID"
                    sleep 1
                    tern_alive || true
                    settle
                else
                    skip_row Tern "$sess" "$size" "$n"
                fi
            fi
        done
    done
done

conn="one connection per session (smtp-source -d)"
[[ ${BENCH_REUSE:-1} = 1 ]] || conn="one connection per message"
echo
echo "## Relay: smtp-source -> server -> smtp-sink"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r),"
echo "Postfix $(postconf -d -h mail_version 2>/dev/null), Tern: $TERN_DESC${TERN_MODE:+ (via $TERN_MODE)},"
echo "spool on $(df -T "$BENCH_TMP" | awk 'NR==2 {print $2 " (" $1 ")"}'), $conn;"
echo "CPU busy before the run: ${BUSY_BEFORE}% (other load), after: $(machine_busy_pct)%."
echo
"$PY" "$BENCH_HOME/report.py" "$RESULTS"
echo
((TERN_OK)) || [[ -z $TERN_WHY ]] || echo "Tern: skipped: ${TERN_WHY%; }"
