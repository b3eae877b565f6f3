#!/bin/bash
# Whole-server benchmark, inbound mail (issue 2): smtp-source -> server ->
# Maildir, Tern and Postfix side by side in the same run, smtp-sink (no disk)
# as the ceiling.  Run as root:  bench/smtp_bench.sh   (see bench/README.md)
#
# Environment:
#   TERN_BUILD            directory holding ternd (default: <repo>/build)
#   BENCH_QUICK=1         2000 small / 500 large messages, to try it out
#   BENCH_MESSAGES        messages per 4 KiB case   (default 20000)
#   BENCH_MESSAGES_LARGE  messages per 100 KiB case (default 2000)
#   BENCH_SESSIONS        sessions to try           (default "1 20")
#   BENCH_SIZES           message payload sizes     (default "4096 102400")
#   BENCH_SERVERS         which rows to run         (default "smtp-sink Postfix Tern Tern+checks")
#                         Tern+checks: a second ternd with the inbound checks on
#                         (SPF, DKIM, DMARC, iprev against unbound on loopback;
#                         [limits] off so only the checks' cost shows)
#   BENCH_REUSE=0         a new connection per message (default: smtp-source -d,
#                         each session keeps its connection for all its messages)
#   BENCH_REPEAT=N        run each case N times, report the best (a shared machine)
#   BENCH_POSTFIX_LOG=0   Postfix logs nowhere (default: maillog_file, as Tern logs to a file)
#   BENCH_KEEP=1          keep the temporary directory (configs, logs, mail)
#   BENCH_TMPDIR          where the temporary directory goes (default /tmp;
#                         must be a real disk for the fsyncs to mean anything)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_enter_netns "$0" "$@"
bench_counts
bench_setup_tmp

PORT_TERN=2525
PORT_POSTFIX=2526
SINK_ADDR=127.0.0.2:2527
PORT_TERN_CHECKS=2528
DNS_PORT=5354
SESSIONS=${BENCH_SESSIONS:-"1 20"}
SIZES=${BENCH_SIZES:-"4096 102400"}
SERVERS=${BENCH_SERVERS:-"smtp-sink Postfix Tern Tern+checks"}
RESULTS=$BENCH_TMP/results.tsv
REUSE=()
[[ ${BENCH_REUSE:-1} = 1 ]] && REUSE=(--reuse)
: >"$RESULTS"

want() { [[ " $SERVERS " == *" $1 "* ]]; }

log "temporary directory: $BENCH_TMP"
BUSY_BEFORE=$(machine_busy_pct)
((BUSY_BEFORE < 10)) || log "warning: the machine is already ${BUSY_BEFORE}% busy; figures will be low and noisy"
log "messages: $BENCH_MESSAGES x 4 KiB, $BENCH_MESSAGES_LARGE x 100 KiB; sessions: $SESSIONS"

# ---- smtp-sink: the ceiling (no disk)
if want smtp-sink; then
    sink_start "$SINK_ADDR" "$BENCH_TMP/sink.counter"
fi

# ---- Postfix
PF=$BENCH_TMP/postfix
PF_NEW=$PF/mail/example.test/demo/Maildir/new
if want Postfix; then
    postfix_setup "$PF" "$PORT_POSTFIX" maildir
    postfix_start "$PF" "$PORT_POSTFIX"
    r=$(probe_send 127.0.0.1 "$PORT_POSTFIX" demo@example.test) || die "Postfix refused the probe: $r"
    wait_for_count 1 20 count_files "$PF_NEW" || die "Postfix did not deliver the probe; see $PF/maillog (BENCH_KEEP=1)"
    postfix_wait_empty "$PF" 20 || true
    empty_dir "$PF_NEW"
    log "Postfix $(postconf -d -h mail_version) up on 127.0.0.1:$PORT_POSTFIX"
fi

# ---- Tern
TERN=$BENCH_TMP/tern
TERN_NEW=$TERN/var/mail/example.test/demo/Maildir/new
TERN_OK=0
TERN_WHY=""
if want Tern; then
    mkdir -p "$TERN"
    tern_base_config "$TERN/var" "$PORT_TERN" >"$TERN/tern.toml"
    if [[ ! -x $TERND ]]; then
        TERN_WHY="no ternd at $TERND (build it, or set TERN_BUILD)"
    elif ! tern_start "$TERN/tern.toml" "$TERN/ternd.log" "$PORT_TERN"; then
        TERN_WHY="ternd did not start (log above)"
    elif ! r=$(probe_send 127.0.0.1 "$PORT_TERN" demo@example.test); then
        TERN_WHY="ternd refused the probe message: $r"
    elif ! wait_for_count 1 20 count_files "$TERN_NEW"; then
        TERN_WHY="ternd accepted the probe but it did not reach $TERN_NEW within 20 s"
    else
        TERN_OK=1
        sleep 0.5
        empty_dir "$TERN_NEW"
        log "Tern ($TERND) up on 127.0.0.1:$PORT_TERN"
    fi
    ((TERN_OK)) || log "Tern: skipped: $TERN_WHY"
fi

# ---- Tern with the inbound checks on, and the DNS they ask
TERNC=$BENCH_TMP/tern-checks
TERNC_NEW=$TERNC/var/mail/example.test/demo/Maildir/new
TERNC_OK=0
if want Tern+checks && [[ -x $TERND ]]; then
    # smtp-source sends as bench@bench.test from HELO client.bench.test.
    zone=$(cat <<'ZONE'
    local-zone: "bench.test." static
    local-data: 'bench.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
    local-data: 'client.bench.test. TXT "v=spf1 a -all"'
    local-data: 'client.bench.test. A 127.0.0.1'
    local-data: '_dmarc.bench.test. TXT "v=DMARC1; p=none"'
ZONE
)
    if unbound_start "$BENCH_TMP/unbound" 127.0.0.1 "$DNS_PORT" "$zone"; then
        mkdir -p "$TERNC"
        tern_base_config "$TERNC/var" "$PORT_TERN_CHECKS" | sed 's/^checks   = false/checks   = true/' >"$TERNC/tern.toml"
        printf '\n[dns]\nservers = ["127.0.0.1:%s"]\n\n[limits]\n%s\n' "$DNS_PORT" \
            "connections_per_ip = 0
connection_rate_per_ip = 0
messages_per_ip = 0
recipients_per_ip = 0" >>"$TERNC/tern.toml"
        TERN_PID_PLAIN=${TERN_PID:-}
        if tern_start "$TERNC/tern.toml" "$TERNC/ternd.log" "$PORT_TERN_CHECKS" &&
           probe_send 127.0.0.1 "$PORT_TERN_CHECKS" demo@example.test >/dev/null &&
           wait_for_count 1 20 count_files "$TERNC_NEW"; then
            TERNC_PID=$TERN_PID
            TERNC_OK=1
            grep -q "event=checked" "$TERNC/ternd.log" || log "warning: Tern+checks did not log event=checked"
            sleep 0.5
            empty_dir "$TERNC_NEW"
            log "Tern+checks up on 127.0.0.1:$PORT_TERN_CHECKS (DNS 127.0.0.1:$DNS_PORT)"
        else
            log "Tern+checks: skipped: it did not start or deliver the probe"
        fi
        TERN_PID=$TERN_PID_PLAIN
    else
        log "Tern+checks: skipped: unbound did not start"
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

# settle: let the machine go quiet between cases (deletions written back).
settle() { sync; sleep "${BENCH_SETTLE:-2}"; }

timeout_for() { # messages -> seconds: generous, but bounded
    local n=$1; echo $((60 + n / 20))
}

run() { # server target sessions size messages destination-args...
    local server=$1 target=$2 sess=$3 size=$4 n=$5; shift 5
    "$PY" "$BENCH_HOME/run_case.py" --server "$server" --target "$target" \
        --sessions "$sess" --size "$size" --messages "$n" "${REUSE[@]}" \
        --smtp-source "$SMTP_SOURCE" --timeout "$(timeout_for "$n")" \
        --log "$BENCH_TMP/smtp-source.log" --results "$RESULTS" "$@" || true
}

skip_row() { printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\tskipped\n' "$@" >>"$RESULTS"; }

for size in $SIZES; do
    n=$BENCH_MESSAGES
    ((size > 16384)) && n=$BENCH_MESSAGES_LARGE
    for sess in $SESSIONS; do
        for ((rep = 1; rep <= ${BENCH_REPEAT:-1}; rep++)); do
            log "case: $sess session(s), $size-byte messages, $n messages (run $rep)"
            if want smtp-sink; then
                run smtp-sink "$SINK_ADDR" "$sess" "$size" "$n" \
                    --sink "$BENCH_TMP/sink.counter" --baseline "$(sink_count "$BENCH_TMP/sink.counter")" \
                    --server-pid "$SINK_PID"
                settle
            fi
            if want Postfix; then
                run Postfix "127.0.0.1:$PORT_POSTFIX" "$sess" "$size" "$n" --maildir "$PF_NEW" \
                    --server-pid "$(postfix_master_pid "$PF")"
                postfix_wait_empty "$PF" 120 || true
                empty_dir "$PF_NEW"
                settle
            fi
            if want Tern; then
                if tern_alive; then
                    run Tern "127.0.0.1:$PORT_TERN" "$sess" "$size" "$n" --maildir "$TERN_NEW" \
                        --server-pid "$TERN_PID"
                    sleep 1      # let Tern finish removing queue files
                    tern_alive || true
                    empty_dir "$TERN_NEW"
                    settle
                else
                    skip_row Tern "$sess" "$size" "$n"
                fi
            fi
            if want Tern+checks; then
                if ((TERNC_OK)) && kill -0 "$TERNC_PID" 2>/dev/null; then
                    run Tern+checks "127.0.0.1:$PORT_TERN_CHECKS" "$sess" "$size" "$n" --maildir "$TERNC_NEW" \
                        --server-pid "$TERNC_PID"
                    sleep 1
                    empty_dir "$TERNC_NEW"
                    settle
                else
                    skip_row Tern+checks "$sess" "$size" "$n"
                fi
            fi
        done
    done
done

conn="one connection per session (smtp-source -d)"
[[ ${BENCH_REUSE:-1} = 1 ]] || conn="one connection per message"
echo
echo "## Inbound: smtp-source -> server -> Maildir"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r),"
echo "Postfix $(postconf -d -h mail_version 2>/dev/null), Tern: $TERN_DESC,"
echo "spool and Maildirs on $(df -T "$BENCH_TMP" | awk 'NR==2 {print $2 " (" $1 ")"}'), $conn;"
echo "CPU busy before the run: ${BUSY_BEFORE}% (other load), after: $(machine_busy_pct)%."
echo
"$PY" "$BENCH_HOME/report.py" "$RESULTS"
echo
((TERN_OK)) || [[ -z $TERN_WHY ]] || echo "Tern: skipped: $TERN_WHY"
