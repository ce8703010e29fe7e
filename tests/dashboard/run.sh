#!/usr/bin/env bash
# The dashboard in a real headless browser (Debian's `chromium`), from a fresh clone:
#   bash tests/dashboard/run.sh
# 1. real calls through the gateway on the mock HTTP server leave a config and an audit log
#    (tests/rust/dashboard_traffic.rs); 2. `sluicegate dashboard` serves the page: a request
#    without the token (or with a wrong one) gets 401, with it 200; 3. chromium loads the page
#    and the totals it shows equal `sluicegate usage --json`; the page never contains the
#    provider's api_key or the e-mail address the guardrail redacted; 4. a tampered copy of the
#    log, exported with --export, shows the broken chain and its first bad line; 5. screenshots
#    go to target/test-output/dashboard/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/test-output/dashboard
rm -rf "$out"; mkdir -p "$out"
command -v chromium >/dev/null || { echo "tests/dashboard: chromium is not installed (bash scripts/setup.sh installs it)"; exit 1; }

echo "-- build (sluicegate, dashboard-traffic)"
cargo build --locked -q -p sluicegate-cli -p sluicegate-contract --bin sluicegate --bin dashboard-traffic
bin=target/debug/sluicegate
./target/debug/dashboard-traffic "$out"

browser() { # browser OUT_FILE ARGS...: chromium headless, its chatter kept out of the way
  local dest=$1; shift
  timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$out/chromium-profile" "$@" >"$dest" 2>>"$out/chromium.log"
}

echo "-- serve"
"$bin" dashboard "$out/gateway.yaml" --port 0 >"$out/server.out" 2>"$out/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/server.out" ] && break; sleep 0.1; done
url=$(head -n1 "$out/server.out")
case "$url" in http://127.0.0.1:*/\?token=*) ;; *) echo "no URL printed: $(cat "$out/server.out" "$out/server.err")"; exit 1 ;; esac
base=${url%%\?*}

echo "-- the token is required"
python3 - "$url" "$out/served.html" <<'PY'
import sys, urllib.request, urllib.error
url, dest = sys.argv[1], sys.argv[2]
base = url.split("?")[0]
def get(u, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(u, method=method), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
for u in (base, base + "?token=0000", base + "data.json", base + "?token=" + "0" * 32):
    status = get(u)[0]
    assert status == 401, f"{u}: {status}, not 401"
assert get(url, "POST")[0] == 405, "POST was not refused"
status, headers, body = get(url)
assert status == 200, status
assert not any(h.lower().startswith("access-control-") for h in headers), f"CORS headers sent: {headers}"
open(dest, "wb").write(body)
print("   401 without the token or with a wrong one, 200 with it, no CORS headers")
PY

echo "-- chromium: totals equal sluicegate usage --json"
browser "$out/page.dom.html" --dump-dom --virtual-time-budget=5000 "$url"
browser /dev/null --screenshot="$out/dashboard.png" --window-size=1400,3200 --virtual-time-budget=5000 "$url"
"$bin" usage "$out/audit.jsonl" --json >"$out/usage.json"
python3 - "$out/page.dom.html" "$out/usage.json" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
usage = json.load(open(sys.argv[2]))
assert 'data-ready="true"' in dom, "the page's script did not finish"
shown = {m[0]: float(m[1]) for m in re.findall(r'id="total-([a-z-]+)" data-value="([^"]*)"', dom)}
groups = usage["groups"]
want = {
    "requests": sum(g["requests"] for g in groups),
    "errors": sum(sum(g["errors"].values()) for g in groups),
    "cost": sum(g["cost_usd"] for g in groups),
    "input-tokens": sum(g["input_tokens"] for g in groups),
    "output-tokens": sum(g["output_tokens"] for g in groups),
}
for k, v in want.items():
    assert k in shown, f"the page shows no total-{k}"
    assert abs(shown[k] - v) <= 1e-12 * max(1.0, abs(v)), f"total-{k}: page {shown[k]} != usage {v}"
assert want["requests"] > 0 and want["cost"] > 0
status = re.search(r'id="audit-overall" data-status="([a-z]+)"', dom).group(1)
assert status == "intact", status
print(f"   page totals = usage totals: {want}")
PY

echo "-- no secret and no matched text in the page"
for f in "$out/served.html" "$out/page.dom.html"; do
  for secret in sk-dashboard-provider-secret-7f3a dana.dashboard.4821@example.com 123-45-6789 sgk-dash-search-0001; do
    if grep -q -- "$secret" "$f"; then echo "FAILED: $f contains $secret"; exit 1; fi
  done
done
# The secrets are really there to leak: in the config and the traffic, not in the page.
grep -q sk-dashboard-provider-secret-7f3a "$out/gateway.yaml"
echo "   neither the provider api_key, the virtual key, the redacted e-mail nor the blocked SSN"

echo "-- a tampered log shows the failure and its first bad line"
cp "$out/audit.jsonl" "$out/tampered.jsonl"
python3 - "$out/tampered.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
assert '"cost_usd":0.00019' in lines[2], lines[2][:200]
lines[2] = lines[2].replace('"cost_usd":0.00019', '"cost_usd":0.00001', 1)   # line 3: a cheaper call
open(sys.argv[1], "w").write("\n".join(lines))
PY
"$bin" dashboard "$out/gateway.yaml" --audit "$out/tampered.jsonl" --export "$out/tampered.html" >/dev/null
browser "$out/tampered.dom.html" --dump-dom --virtual-time-budget=5000 "file://$PWD/$out/tampered.html"
browser /dev/null --screenshot="$out/tampered.png" --window-size=1400,1200 --virtual-time-budget=5000 "file://$PWD/$out/tampered.html"
python3 - "$out/tampered.dom.html" <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
assert re.search(r'id="audit-overall" data-status="broken"', dom), "the tampered log is not shown broken"
m = re.search(r'data-chain="broken" data-first-bad-line="(\d+)"', dom)
assert m, "no first bad line shown"
# Line 3 was edited: line 4's `prev` no longer matches it.
assert m.group(1) == "4", m.group(1)
assert "BROKEN at" in dom
print(f"   broken chain shown, first bad line {m.group(1)}")
PY
echo "   screenshots: $out/dashboard.png, $out/tampered.png"
echo "tests/dashboard: ok"
