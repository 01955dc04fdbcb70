#!/bin/sh
# deploy/k8s/make-secrets.sh OVERLAY [STORE_URI]: the files an overlay's secretGenerator reads, in
# OVERLAY/secrets/ (0700, never committed): random passphrases and internal token, the store's URI
# (default: the development overlay's MongoDB) and, unless OVERLAY/secrets/pki/ already holds them,
# a CA with one certificate per service (python -m ecert.runtime.pki; in production put your
# organisation's CA's files there instead). An existing passphrase is never replaced: it decrypts
# keys on the volumes.
set -eu
overlay=${1:?usage: make-secrets.sh OVERLAY [STORE_URI]}
uri=${2:-mongodb://mongodb:27017/ecert}
py=${PYTHON:-python3}
dir="$overlay/secrets"
mkdir -p "$dir" && chmod 0700 "$dir"
put() {  # put FILE KEY VALUE: KEY=VALUE in FILE unless FILE exists
  [ -e "$dir/$1" ] && { echo "kept $dir/$1"; return; }
  (umask 077; printf '%s=%s\n' "$2" "$3" > "$dir/$1")
  echo "wrote $dir/$1"
}
random() { "$py" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
put internal.env INTERNAL_TOKEN "$(random)"
put registry-root.env ROOT_KEY_PASSPHRASE "$(random)"
put signing-cn-sh.env SIGNING_KEY_PASSPHRASE "$(random)"
put signing-cn-zj.env SIGNING_KEY_PASSPHRASE "$(random)"
put store.env STORE_URI "$uri"
"$py" -m ecert.runtime.pki "$dir/pki" registry issuer-CN-SH issuer-CN-ZJ verifier gateway
