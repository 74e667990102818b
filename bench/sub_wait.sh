# Sourced by the broker benchmarks (bash). await_subscriber PID N FILE: waits for `mosquitto_sub -C N+1` (a
# "ready" message, then N) writing to FILE; if the broker dropped some (a full queue), stops waiting once nothing
# has arrived for 2 s. Sets GOT (messages after the ready one) and T1 (the time of the last arrival, or of the
# end when all N came). Needs now().
await_subscriber() {
  local sub=$1 n=$2 file=$3 last=0 last_t count
  last_t=$(now)
  while kill -0 "$sub" 2>/dev/null; do
    count=$(wc -l <"$file")
    if [ "$count" != "$last" ]; then last=$count; last_t=$(now); fi
    awk -v a="$last_t" -v z="$(now)" 'BEGIN { exit !(z - a > 2) }' && { kill "$sub" 2>/dev/null; break; }
    sleep 0.02
  done
  wait "$sub" 2>/dev/null || true
  GOT=$(($(wc -l <"$file") - 1))
  if [ "$GOT" -ge "$n" ]; then T1=$(now); else T1=$last_t; fi
}
