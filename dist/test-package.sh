#!/usr/bin/env bash
# Installs the package dist/build.sh made, checks that what it promises is where each tool looks,
# and removes it again, leaving nothing behind. Needs root (dpkg -i) and man-db.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/dist
deb=$(ls "$out"/int-check_*_amd64.deb)
static=$(ls "$out"/int-check-*-x86_64-linux-static)

fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== static binary: no shared libraries, runs with an empty environment"
ldd "$static" 2>&1 | grep -Eq 'statically linked|not a dynamic executable' || fail "$static links shared libraries: $(ldd "$static" 2>&1)"
env -i "$static" --version | grep -q '^int-check ' || fail "--version with an empty environment"
env -i "$static" --dry-run > /dev/null || fail "--dry-run with an empty environment"
# No /etc/resolv.conf (an empty one, in a private mount namespace): a real run still ends with
# findings, not a crash: exit 1 (failures), never 2 or 3.
if command -v unshare >/dev/null 2>&1 && unshare -m true 2>/dev/null; then
  code=0
  unshare -m sh -c "mount --bind /dev/null /etc/resolv.conf && exec env -i '$PWD/$static' --service spine-core --timeout 1s --format json" \
    > "$out/no-resolv.json" || code=$?
  [ "$code" = 1 ] || fail "a run without resolv.conf ended with exit $code, not 1"
  grep -q '"reason": "dns\.' "$out/no-resolv.json" || fail "a run without resolv.conf gave no DNS findings"
fi

if dpkg -s int-check >/dev/null 2>&1; then
  fail "int-check is already installed as a package here; not touching it"
fi
command -v man >/dev/null 2>&1 || fail "man is needed (apt-get install man-db)"

echo "== dpkg -i $deb"
dpkg -i "$deb" >/dev/null
trap 'dpkg -r int-check >/dev/null 2>&1 || true' EXIT
/usr/bin/int-check --version | grep -q '^int-check ' || fail "int-check --version"
# The test lab's failpoints (a phase made to panic on request) never reach a release.
if grep -aq 'lab failpoint' /usr/bin/int-check; then fail "the packaged binary carries the test failpoints"; fi
man -w int-check | grep -q '/usr/share/man/man1/int-check.1.gz' || fail "man -w int-check: $(man -w int-check 2>&1)"
man -w int-check-certs-verify >/dev/null || fail "man -w int-check-certs-verify"
# Every page the main page refers to is installed.
for page in $(zcat /usr/share/man/man1/int-check.1.gz | grep -o 'int\\-check\\-[a-z\\-]*(1)' | sed 's/\\-/-/g; s/(1)//' | sort -u); do
  man -w "$page" >/dev/null || fail "the manual refers to $page, which is not installed"
done
grep -q 'complete -F' /usr/share/bash-completion/completions/int-check || fail "bash completion"
# The installed completion completes after a subcommand (clap-rs/clap#6421, worked around).
after=$(bash --norc -c 'source /usr/share/bash-completion/completions/int-check; COMP_WORDS=(int-check certs ""); COMP_CWORD=2; _int__check int-check "" certs; echo "${COMPREPLY[*]}"')
echo "$after" | grep -qw judge || fail "bash completion completes nothing after 'int-check certs': $after"
grep -q '#compdef int-check' /usr/share/zsh/vendor-completions/_int-check || fail "zsh completion"
grep -q 'complete -c int-check' /usr/share/fish/vendor_completions.d/int-check.fish || fail "fish completion"
[ -s /usr/share/doc/int-check/copyright ] || fail "copyright file"
[ -s /usr/share/doc/int-check/README.md ] || fail "README"
[ -s /usr/share/doc/int-check/examples/config.example.toml ] || fail "example config"
[ -s /usr/share/doc/int-check/contrib/prometheus/int-check.rules.yml ] || fail "alert rules"
[ -s /usr/share/doc/int-check/contrib/grafana/int-check-dashboard.json ] || fail "dashboard"
[ -s /lib/systemd/system/int-check.service ] || fail "systemd unit"
listed=$(dpkg -L int-check)

echo "== dpkg -r int-check"
dpkg -r int-check >/dev/null
trap - EXIT
for file in $listed; do
  [ -d "$file" ] && continue
  [ ! -e "$file" ] || fail "$file is still there after dpkg -r"
done
dpkg -s int-check >/dev/null 2>&1 && fail "still registered after dpkg -r"
echo "package test passed"
