#!/usr/bin/env bash
# The preflight done by hand, one tool and one endpoint after another, as a support engineer would:
# dig for DNS, openssl s_client for TLS, curl for HTTPS, ldapsearch for the directory.
# Usage: by-hand.sh ENDPOINTS_FILE DNS_IP DNS_PORT ROOT_CA_PEM [CLIENT_CERT CLIENT_KEY]
# ENDPOINTS_FILE lines: "https|ldaps HOST IP PORT PATH MTLS(yes|no)". Loopback only: the benchmark's lab.
set -euo pipefail
list=$1 dns_ip=$2 dns_port=$3 root=$4 cert=${5:-} key=${6:-}
for tool in dig openssl curl ldapsearch; do
  command -v "$tool" >/dev/null || { echo "by-hand.sh needs $tool" >&2; exit 2; }
done
while read -r kind host ip port path mtls; do
  identity=() curl_identity=()
  if [ "$mtls" = yes ]; then identity=(-cert "$cert" -key "$key"); curl_identity=(--cert "$cert" --key "$key"); fi
  dig @"$dns_ip" -p "$dns_port" "$host" A +short +time=2 +tries=1 >/dev/null
  # What a person reads in s_client's output is the verification result, not its exit status.
  tls=$(openssl s_client -connect "$ip:$port" -servername "$host" -CAfile "$root" -verify_return_error \
    "${identity[@]}" </dev/null 2>&1 || true)
  grep -q "Verify return code: 0 (ok)" <<<"$tls" || { echo "TLS to $host failed: $tls" >&2; exit 1; }
  case "$kind" in
    https)
      curl -sS --max-time 5 --cacert "$root" "${curl_identity[@]}" --resolve "$host:$port:$ip" \
        -o /dev/null -w '%{http_code}\n' "https://$host:$port$path" >/dev/null
      ;;
    ldaps)
      # libldap checks the name in the URL; the lab's directory name is not in this machine's DNS.
      LDAPTLS_CACERT="$root" LDAPTLS_REQCERT=allow ldapsearch -x -o nettimeout=5 -H "ldaps://$ip:$port" \
        -b ou=services,o=nhs "(&(objectClass=nhsMhs)(nhsMHSPartyKey=YES-0000806))" nhsMhsSvcIA >/dev/null
      ;;
  esac
done < "$list"
