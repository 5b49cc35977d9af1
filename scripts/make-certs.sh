#!/usr/bin/env bash
# Makes a throwaway certificate authority and certificates signed by it, for the demo
# and the tests: TLS for the HTTP APIs and the MQTT broker, and client certificates.
# Never use these in production and never commit them: the output directory gets a
# .gitignore that ignores everything in it.
#
#   scripts/make-certs.sh [--days N] [--host NAME|IP]... [--client NAME]... [--force] DIR
#
# Writes into DIR (created 0700):
#   ca.crt ca.key                CA (EC P-256), valid --days (default 30)
#   server.crt server.key        serverAuth, for the HTTP APIs
#   broker.crt broker.key        serverAuth, for mosquitto (same names as server)
#   client-NAME.crt/.key         clientAuth, CN=NAME, one per --client
# Server certificates name localhost, 127.0.0.1 and ::1 plus every --host.
# Private keys are 0600. Refuses to overwrite an existing CA unless --force.
set -euo pipefail

usage() {
  sed -n '7p' "$0" | sed 's/^# */usage: /' >&2
  exit 2
}

days=30
hosts=()
clients=()
force=0
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --days)
      [ $# -ge 2 ] || usage
      days="$2"
      shift 2
      ;;
    --host)
      [ $# -ge 2 ] || usage
      hosts+=("$2")
      shift 2
      ;;
    --client)
      [ $# -ge 2 ] || usage
      clients+=("$2")
      shift 2
      ;;
    --force)
      force=1
      shift
      ;;
    -h | --help) usage ;;
    -*)
      echo "make-certs: unknown option $1" >&2
      usage
      ;;
    *)
      [ -z "$dir" ] || usage
      dir="$1"
      shift
      ;;
  esac
done
[ -n "$dir" ] || usage
if ! [[ "$days" =~ ^[0-9]+$ ]] || [ "$days" -lt 1 ] || [ "$days" -gt 825 ]; then
  echo "make-certs: --days must be 1..825" >&2
  exit 2
fi
name_re='^[A-Za-z0-9._:-]{1,253}$'
for h in "${hosts[@]+"${hosts[@]}"}" "${clients[@]+"${clients[@]}"}"; do
  if ! [[ "$h" =~ $name_re ]]; then
    echo "make-certs: '$h' is not a host name, address or client name" >&2
    exit 2
  fi
done
command -v openssl >/dev/null || { echo "make-certs: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
if [ -e "$dir/ca.key" ] && [ "$force" -ne 1 ]; then
  echo "make-certs: $dir/ca.key exists; use --force to replace the CA" >&2
  exit 1
fi
printf '*\n' >"$dir/.gitignore"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

newkey "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=ShopEasy throwaway CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" \
  -out "$dir/ca.crt"

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "${hosts[@]+"${hosts[@]}"}"; do
  if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+=",IP:$h"; else san+=",DNS:$h"; fi
done

# sign NAME CN EXTENSIONS: a key and a certificate signed by the CA.
sign() {
  local name="$1" cn="$2" ext="$3"
  newkey "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$tmp/$name.csr"
  printf '%b' "$ext" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "$(serial)" -days "$days" -sha256 -extfile "$tmp/$name.ext" \
    -out "$dir/$name.crt" 2>/dev/null
}

server_ext="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=$san\n"
sign server localhost "$server_ext"
sign broker localhost "$server_ext"
for c in "${clients[@]+"${clients[@]}"}"; do
  sign "client-$c" "$c" \
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
done

chmod 0600 "$dir"/*.key
chmod 0644 "$dir"/*.crt
echo "make-certs: CA and certificates for $san (valid $days days) in $dir"
