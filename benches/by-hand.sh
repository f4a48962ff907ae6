#!/usr/bin/env bash
# The preflight done by hand, one tool and one endpoint after another, as a support engineer would:
# dig for DNS, openssl s_client for TLS, curl for HTTPS, ldapsearch for the directory.
# Usage: by-hand.sh ENDPOINTS_FILE DNS_IP DNS_PORT ROOT_CA_PEM
# ENDPOINTS_FILE lines: "https|ldaps HOST IP PORT". Loopback only: the benchmark's lab.
set -euo pipefail
list=$1 dns_ip=$2 dns_port=$3 root=$4
for tool in dig openssl curl ldapsearch; do
  command -v "$tool" >/dev/null || { echo "by-hand.sh needs $tool" >&2; exit 2; }
done
while read -r kind host ip port; do
  dig @"$dns_ip" -p "$dns_port" "$host" A +short +time=2 +tries=1
  openssl s_client -connect "$ip:$port" -servername "$host" -CAfile "$root" -verify_return_error </dev/null >/dev/null 2>&1
  case "$kind" in
    https)
      curl -sS --max-time 5 --cacert "$root" --resolve "$host:$port:$ip" -o /dev/null -w '%{http_code}\n' "https://$host:$port/x"
      ;;
    ldaps)
      # libldap checks the name in the URL; the lab's directory name is not in this machine's DNS.
      LDAPTLS_CACERT="$root" LDAPTLS_REQCERT=allow ldapsearch -x -o nettimeout=5 -H "ldaps://$ip:$port" \
        -b ou=services,o=nhs "(&(objectClass=nhsMhs)(nhsMHSPartyKey=YES-0000806))" nhsMhsSvcIA >/dev/null
      ;;
  esac
done < "$list"
