#!/usr/bin/env bash
# The fastest preflight a shell gives: for every endpoint at once, dig for its name, then one
# curl (HTTPS) or one ldapsearch (the directory) to the address dig returned.
# Usage: parallel-curl.sh ENDPOINTS_FILE DNS_IP DNS_PORT ROOT_CA_PEM CLIENT_CERT CLIENT_KEY
# ENDPOINTS_FILE lines: "https|ldaps HOST IP PORT PATH MTLS(yes|no)". Loopback only: the benchmark's lab.
# Exits non-zero when any endpoint failed.
set -uo pipefail
list=$1 dns_ip=$2 dns_port=$3 root=$4 cert=$5 key=$6
for tool in dig curl ldapsearch; do
  command -v "$tool" >/dev/null || { echo "parallel-curl.sh needs $tool" >&2; exit 2; }
done
one() {
  local kind=$1 host=$2 port=$4 path=$5 mtls=$6 ip
  ip=$(dig @"$dns_ip" -p "$dns_port" "$host" A +short +time=2 +tries=1 | head -n1)
  [ -n "$ip" ] || return 1
  case "$kind" in
    https)
      local identity=()
      if [ "$mtls" = yes ]; then identity=(--cert "$cert" --key "$key"); fi
      curl -sS --fail --max-time 5 --cacert "$root" "${identity[@]}" --resolve "$host:$port:$ip" \
        -o /dev/null "https://$host:$port$path"
      ;;
    ldaps)
      # ldapsearch resolves through the system, which does not know the lab's names: the address
      # goes in the URL, and the name check is left out (a cheaper check than int-check's).
      LDAPTLS_CACERT="$root" LDAPTLS_REQCERT=allow ldapsearch -x -o nettimeout=5 -H "ldaps://$ip:$port" \
        -b ou=services,o=nhs "(&(objectClass=nhsMhs)(nhsMHSPartyKey=YES-0000806))" nhsMhsSvcIA >/dev/null
      ;;
  esac
}
pids=()
while read -r line; do
  # shellcheck disable=SC2086
  one $line &
  pids+=($!)
done < "$list"
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
