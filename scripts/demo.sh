#!/usr/bin/env bash
# The demo: installs what it needs, builds, then runs two stores end to end on this
# machine: per store a real mosquitto broker, a shopeasy-edge daemon and simulated
# runners, plus one shopeasy-cloud. Simulated customers order around both stores and
# pay on the sandbox gateway, simulated pickers pick by scanning and pack, the edges
# dispatch to the runners, who ride and deliver; a live summary line shows orders per
# state and median promised vs actual delivery time. Prints where everything listens,
# the API tokens and the staff sign-in (generated fresh for each run), then runs until
# Ctrl-C, which stops it all.
# Environment: DEMO_STATE (default ./state/demo), DEMO_BASE_PORT (default 18080),
# DEMO_RUNNERS per store (default 4), DEMO_SPEEDUP (runners ride this many times
# faster than real scooters, default 5), DEMO_SECONDS (stop by itself after N seconds),
# DEMO_BUILD_DIR (default ./build), DEMO_NO_BUILD=1 (use what is built already).
# Only the programs the demo starts are built (not the tests and benchmarks), through
# ccache when it is installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="${DEMO_STATE:-$root/state/demo}"
base="${DEMO_BASE_PORT:-18080}"
runners_per_store="${DEMO_RUNNERS:-4}"
# Runners ride at scooter speed times this, so deliveries finish within a short demo.
speedup="${DEMO_SPEEDUP:-5}"

build_dir="${DEMO_BUILD_DIR:-$root/build}"
bash "$root/scripts/install-deps.sh"
# Every program this script starts; the brokers are the system's mosquitto.
demo_targets=shopeasy-cloud,shopeasy-edge,shopeasy-edge-users,shopeasy-runner
if [ -z "${DEMO_NO_BUILD:-}" ]; then
  start=$(date +%s)
  bash "$root/scripts/build.sh" "$build_dir" --targets "$demo_targets"
  echo "demo: build took $(( $(date +%s) - start ))s"
fi
bin="$build_dir/bin"
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

rm -rf "$state"
mkdir -p "$state"
chmod 700 "$state"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: stopped; logs and state are in $state"
}
trap cleanup INT TERM EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $((base + 10)) $((base + 1)) $((base + 2)) $((base + 11)) $((base + 12)); do
  if ! port_free "$p"; then
    echo "demo: port $p is in use; set DEMO_BASE_PORT to another base" >&2
    exit 1
  fi
done

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

admin_token="$(random_secret)"
staff_password="$(random_secret)"
customer_token="$(random_secret)"
cat >"$state/tokens.txt" <<TOKENS
admin token (edges and cloud): $admin_token
customer token (cloud): $customer_token
staff sign-in on each edge's web page: user admin, password $staff_password
operator sign-in on the cloud's /ops page: user admin, password $staff_password
TOKENS
chmod 600 "$state/tokens.txt"
tokens_json="[{\"name\":\"demo-admin\",\"role\":\"admin\",\"sha256\":\"$(sha256 "$admin_token")\"}]"
cloud_tokens_json="[{\"name\":\"demo-admin\",\"role\":\"admin\",\"sha256\":\"$(sha256 "$admin_token")\"},{\"name\":\"demo-app\",\"role\":\"customer\",\"sha256\":\"$(sha256 "$customer_token")\"}]"
api() {  # method url [json-body] -> prints the body; fails on HTTP errors
  local method="$1" url="$2" body="${3:-}"
  if [ -n "$body" ]; then
    curl -fsS -X "$method" -H "Authorization: Bearer $admin_token" \
      -H "Content-Type: application/json" -d "$body" "$url"
  else
    curl -fsS -X "$method" -H "Authorization: Bearer $admin_token" "$url"
  fi
}

wait_http() {  # url, name
  for _ in $(seq 1 100); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: $2 did not answer on $1; see its log in $state" >&2
  exit 1
}

# Cloud. Most simulated customers share one token, so the per-customer cap on unpaid
# orders is raised for them; a few sign in with their phone (codes from the sandbox SMS
# provider); the sandbox gateway takes their payments.
cloud_port=$((base + 10))
mkdir -p "$state/cloud"
# The operator who signs in to /ops: an account in the cloud's own user file.
printf '%s\n' "$staff_password" | "$bin/shopeasy-edge-users" --db "$state/cloud/audit.db" add admin admin >/dev/null
cat >"$state/cloud/cloud.json" <<JSON
{"http": {"port": $cloud_port}, "state_dir": "$state/cloud", "auth": {"tokens": $cloud_tokens_json},
 "stores": {"online_window_s": 30}, "payments": {"provider": "sandbox"},
 "accounts": {"sms_provider": "sandbox"},
 "orders": {"max_unpaid_per_customer": 1000}}
JSON
"$bin/shopeasy-cloud" --config "$state/cloud/cloud.json" >"$state/cloud/cloud.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$cloud_port/health" "shopeasy-cloud"

# The cloud owns the catalog; stores learn it through sync.
python3 - "$root/firmware-config/demo/catalog.json" >"$state/catalog.lines" <<'PY'
import json, sys
for p in json.load(open(sys.argv[1]))["products"]:
    body = {k: p[k] for k in ("name", "category", "price_cents", "barcodes")}
    print(p["sku"], json.dumps(body), p["ean13"], sep="\t")
PY
while IFS=$'\t' read -r sku body _; do
  api PUT "http://127.0.0.1:$cloud_port/v1/catalog/$sku" "$body" >/dev/null
done <"$state/catalog.lines"

# Two stores in different geohash cells of Bengaluru.
store_ids=(blr-indiranagar blr-koramangala)
store_lat=(12.9719 12.9352)
store_lon=(77.6412 77.6245)
for i in 0 1; do
  id="${store_ids[$i]}"
  dir="$state/$id"
  mkdir -p "$dir/broker"
  broker_port=$((base + 1 + i))
  http_port=$((base + 11 + i))
  edge_password="$(random_secret)"
  store_secret="$(random_secret)"
  api PUT "http://127.0.0.1:$cloud_port/v1/stores/$id" \
    "{\"name\":\"ShopEasy $id\",\"lat\":${store_lat[$i]},\"lon\":${store_lon[$i]},\"service_radius_m\":3000,\"secret\":\"$store_secret\"}" \
    >/dev/null
  : >"$dir/broker/passwd"
  # Passwords go to mosquitto_passwd on standard input (it asks twice), never as
  # arguments; runners through the same script an installer uses.
  printf '%s\n%s\n' "$edge_password" "$edge_password" |
    mosquitto_passwd "$dir/broker/passwd" shopeasy-edge >/dev/null
  for r in $(seq 1 "$runners_per_store"); do
    runner_password="$(random_secret)"
    echo "$runner_password" >"$dir/broker/runner-$r.secret"
    printf '%s\n' "$runner_password" |
      bash "$root/firmware-config/mosquitto/add-runner.sh" "$dir/broker/passwd" add "$id-runner-$r"
  done
  chmod 600 "$dir/broker/passwd" "$dir"/broker/*.secret
  cat >"$dir/broker/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
password_file $dir/broker/passwd
acl_file $root/firmware-config/mosquitto/acl
persistence true
persistence_location $dir/broker/
user $(id -un)
listener $broker_port 127.0.0.1
CONF
  "$mosquitto_bin" -c "$dir/broker/mosquitto.conf" >"$dir/broker/mosquitto.log" 2>&1 &
  pids+=($!)

  cat >"$dir/edge.json" <<JSON
{
  "store": {"id": "$id", "name": "ShopEasy $id", "lat": ${store_lat[$i]}, "lon": ${store_lon[$i]}},
  "state_dir": "$dir",
  "http": {"port": $http_port},
  "mqtt": {"port": $broker_port, "username": "shopeasy-edge", "client_id": "shopeasy-edge-$id"},
  "sync": {"enabled": true, "url": "http://127.0.0.1:$cloud_port", "heartbeat_ms": 300},
  "dispatch": {"speed_mps": $((6 * speedup)), "handover_s": $((60 / speedup))},
  "telemetry": {"runners": [$(for r in $(seq 1 "$runners_per_store"); do printf '%s"%s-runner-%s"' "$([ "$r" -gt 1 ] && echo ,)" "$id" "$r"; done)]},
  "auth": {"tokens": $tokens_json}
}
JSON
  printf '%s\n' "$staff_password" | "$bin/shopeasy-edge-users" --db "$dir/users.db" add admin admin >/dev/null
  SHOPEASY_EDGE_MQTT_PASSWORD="$edge_password" SHOPEASY_EDGE_SYNC_STORE_SECRET="$store_secret" \
    "$bin/shopeasy-edge" --config "$dir/edge.json" >"$dir/edge.log" 2>&1 &
  pids+=($!)

  for r in $(seq 1 "$runners_per_store"); do
    SHOPEASY_RUNNER_MQTT_PASSWORD="$(cat "$dir/broker/runner-$r.secret")" \
      "$bin/shopeasy-runner" --runner.id "$id-runner-$r" --mqtt.port "$broker_port" \
      --runner.lat "${store_lat[$i]}" --runner.lon "${store_lon[$i]}" \
      --runner.speed_mps "$((6 * speedup))" --runner.dwell_ms "$((60000 / speedup))" \
      >"$dir/runner-$r.log" 2>&1 &
    pids+=($!)
  done
done

for i in 0 1; do wait_http "http://127.0.0.1:$((base + 11 + i))/health" "edge ${store_ids[$i]}"; done

# Each store maps its bins, waits for the catalog from the cloud, and receives stock.
for i in 0 1; do
  edge="http://127.0.0.1:$((base + 11 + i))"
  api POST "$edge/api/bins" \
    '{"bins":[{"code":"A-01","walk_order":1},{"code":"A-02","walk_order":2},{"code":"B-01","walk_order":3},{"code":"B-02","walk_order":4}]}' >/dev/null
  for _ in $(seq 1 100); do
    api GET "$edge/api/stock/BISCUIT-200" >/dev/null 2>&1 && break
    sleep 0.1
  done
  n=0
  while IFS=$'\t' read -r sku _ ean; do
    bin=$([ $((n % 2)) -eq 0 ] && echo A-01 || echo B-01)
    api POST "$edge/api/scans" \
      "{\"scan_id\":\"seed-$sku\",\"scanner_id\":\"demo\",\"code\":\"$ean\",\"action\":\"receive\",\"qty\":$((20 + n * 3)),\"bin\":\"$bin\"}" >/dev/null
    n=$((n + 1))
  done <"$state/catalog.lines"
done

# Simulated customers, pickers and the live order summary.
python3 "$root/scripts/demo-traffic.py" "http://127.0.0.1:$cloud_port" "$customer_token" \
  "$admin_token" "http://127.0.0.1:$((base + 11))" "http://127.0.0.1:$((base + 12))" \
  --catalog "$root/firmware-config/demo/catalog.json" 2>"$state/traffic.log" &
pids+=($!)

# Simulated handheld scans: receivers restock and count, at both stores.
(
  mapfile -t eans < <(cut -f3 "$state/catalog.lines")
  k=0
  while true; do
    i=$((RANDOM % 2))
    edge="http://127.0.0.1:$((base + 11 + i))"
    ean="${eans[$((RANDOM % ${#eans[@]}))]}"
    action=receive
    qty=5
    api POST "$edge/api/scans" \
      "{\"scan_id\":\"sim-$$-$k\",\"scanner_id\":\"sim\",\"code\":\"$ean\",\"action\":\"$action\",\"qty\":$qty}" \
      >/dev/null 2>&1 || true
    k=$((k + 1))
    sleep 2
  done
) &
pids+=($!)

echo
echo "ShopEasy demo is running (state and logs in $state)"
echo "  cloud            http://127.0.0.1:$cloud_port   (health: $(curl -fsS "http://127.0.0.1:$cloud_port/health"))"
for i in 0 1; do
  echo "  edge ${store_ids[$i]}  http://127.0.0.1:$((base + 11 + i))/ (command center)   broker 127.0.0.1:$((base + 1 + i))   runners: $runners_per_store"
  echo "      health: $(curl -fsS "http://127.0.0.1:$((base + 11 + i))/health")"
done
cell="$(api GET "http://127.0.0.1:$cloud_port/v1/stores" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["stores"][0]["geohash"])')"
sleep 1.5
echo "  customer view of geohash $cell (first items):"
curl -fsS -H "Authorization: Bearer $customer_token" \
  "http://127.0.0.1:$cloud_port/api/inventory?geo_hash=$cell&limit=3" | head -c 600
echo
echo "  cloud operations page: http://127.0.0.1:$cloud_port/ops   (operator sign-in in $state/tokens.txt)"
echo "  customer app: http://127.0.0.1:$cloud_port/shop   (sign in with any +91 number; the code is in"
echo "    the sandbox SMS: curl -H \"Authorization: Bearer <admin token>\" \"http://127.0.0.1:$cloud_port/v1/sandbox/sms?phone=%2B91...\")"
echo "  staff sign-in and tokens in $state/tokens.txt, e.g.:"
echo "    curl -H \"Authorization: Bearer \$(head -1 $state/tokens.txt | cut -d' ' -f6)\" http://127.0.0.1:$((base + 11))/metrics"
echo "Press Ctrl-C to stop."

if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  while true; do sleep 3600; done
fi
