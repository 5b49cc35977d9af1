#!/usr/bin/env bash
# Adds (or changes the password of) a runner or a handheld scanner in the store
# broker's password file, or revokes one. Runners get their own runner topics through
# the ACL's patterns; a scanner also gets a block of its own in the ACL file, since
# only listed scanners may post scans (a runner must never move stock).
# The password is read from standard input and handed to mosquitto_passwd the same
# way, so it never appears in the process list or shell history.
#   add-runner.sh PASSWD_FILE add RUNNER_ID                     < password
#   add-runner.sh PASSWD_FILE add-scanner SCANNER_ID ACL_FILE   < password
#   add-runner.sh PASSWD_FILE revoke ID [ACL_FILE]
# Reload the broker afterwards (systemctl reload mosquitto, or SIGHUP).
set -euo pipefail
usage() {
  echo "usage: $0 PASSWD_FILE add RUNNER_ID | add-scanner SCANNER_ID ACL_FILE | revoke ID [ACL_FILE]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
file="$1" action="$2" id="$3" acl="${4:-}"
if ! [[ "$id" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "$0: id must be 1-64 letters, digits, '-' or '_': '$id'" >&2
  exit 2
fi
# The edge daemon's own user reads every device's topics; no device may take its name.
if [ "$id" = "shopeasy-edge" ]; then
  echo "$0: '$id' is the edge daemon's own broker user, not a device id" >&2
  exit 2
fi

begin_marker="# BEGIN shopeasy scanners"
end_marker="# END shopeasy scanners"

# Rewrites ACL_FILE's scanner block without ID's entry (and with it when $2 is "add").
edit_scanner_block() {
  local acl_file="$1" mode="$2"
  if ! grep -qxF "$begin_marker" "$acl_file" || ! grep -qxF "$end_marker" "$acl_file"; then
    echo "$0: $acl_file has no '$begin_marker' ... '$end_marker' block" >&2
    exit 1
  fi
  local tmp
  tmp="$(mktemp "$acl_file.XXXXXX")"
  awk -v id="$id" -v mode="$mode" -v begin="$begin_marker" -v end="$end_marker" '
    $0 == begin { inside = 1; print; next }
    inside && $0 == end {
      if (mode == "add") {
        print "user " id
        print "topic write scanners/" id "/scan"
        print "topic read scanners/" id "/result"
      }
      inside = 0; print; next
    }
    inside && $0 == "user " id { skipping = 1; next }
    inside && skipping && /^topic / { next }
    { skipping = 0; print }
  ' "$acl_file" >"$tmp"
  chmod --reference="$acl_file" "$tmp"
  mv "$tmp" "$acl_file"
}

set_password() {
  local password
  IFS= read -r password || true
  if [ -z "$password" ]; then
    echo "$0: no password on standard input" >&2
    exit 2
  fi
  [ -f "$file" ] || install -m 0600 /dev/null "$file"
  # mosquitto_passwd asks twice on standard input; printf is a shell builtin, so the
  # password is never an argument of any process.
  printf '%s\n%s\n' "$password" "$password" | mosquitto_passwd "$file" "$id" >/dev/null
}

case "$action" in
  add)
    [ $# -eq 3 ] || usage
    set_password
    ;;
  add-scanner)
    [ $# -eq 4 ] || usage
    [ -f "$acl" ] || { echo "$0: no ACL file $acl" >&2; exit 1; }
    set_password
    edit_scanner_block "$acl" add
    ;;
  revoke)
    [ $# -le 4 ] || usage
    mosquitto_passwd -D "$file" "$id"
    if [ -n "$acl" ]; then edit_scanner_block "$acl" remove; fi
    ;;
  *)
    echo "$0: unknown action '$action' (add, add-scanner or revoke)" >&2
    exit 2
    ;;
esac
