#!/usr/bin/env bash
# Adds (or changes the password of) a runner or scanner in the broker's password file,
# or revokes it. The password is read from standard input so it never appears in the
# process list or shell history.
#   add-runner.sh PASSWD_FILE add RUNNER_ID    < password
#   add-runner.sh PASSWD_FILE revoke RUNNER_ID
# Reload the broker afterwards (systemctl reload mosquitto, or SIGHUP).
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 PASSWD_FILE add|revoke RUNNER_ID" >&2
  exit 2
fi
file="$1" action="$2" id="$3"
if ! [[ "$id" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "$0: runner id must be 1-64 letters, digits, '-' or '_': '$id'" >&2
  exit 2
fi
case "$action" in
  add)
    IFS= read -r password || true
    if [ -z "$password" ]; then
      echo "$0: no password on standard input" >&2
      exit 2
    fi
    [ -f "$file" ] || install -m 0600 /dev/null "$file"
    mosquitto_passwd -b "$file" "$id" "$password"
    ;;
  revoke)
    mosquitto_passwd -D "$file" "$id"
    ;;
  *)
    echo "$0: unknown action '$action' (add or revoke)" >&2
    exit 2
    ;;
esac
