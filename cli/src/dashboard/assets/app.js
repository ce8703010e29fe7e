// The sluicegate dashboard: draws the data embedded in the page (the `data` element) as inline
// SVG charts, each with its numbers in a <details> table under it. No library, no network.
// Every text from the data goes in through textContent, never as HTML.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const H = DATA.history, P = DATA.policy, L = DATA.live;
  const COLORS = ["#3b6fd8", "#e07b39", "#2e9e6b", "#c2410c", "#7c3aed", "#0891b2", "#be185d", "#65a30d", "#8d99ae"];
  const SVGNS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  const usd = (v) => v === null || v === undefined ? "-" : "$" + Number(v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : 2);
  const num = (v) => v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 3 });
  const when = (secs) => new Date(secs * 1000).toISOString().replace("T", " ").slice(0, 16) + "Z";
  const section = (id, title, wide, ...kids) => el("section", { id, class: wide ? "wide" : null }, el("h2", {}, title), ...kids);
  const empty = (text) => el("p", { class: "empty" }, text);

  // A table of rows (arrays); numeric columns are right-aligned.
  function table(head, rows, numeric) {
    numeric = numeric || [];
    return el("table", {},
      el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: numeric.includes(i) ? "n" : null }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric.includes(i) ? "n" : null }, c))))));
  }
  const numbers = (head, rows, numeric) => el("details", {}, el("summary", {}, "Numbers"), rows.length ? table(head, rows, numeric) : empty("none"));
  const legend = (names) => el("div", { class: "legend" }, names.map((n, i) => el("span", {}, el("i", { style: "background:" + COLORS[i % COLORS.length] }), n)));

  // Stacked bars over time: series = {start: [secs], by: {name: [amount per bucket]}}.
  function stacked(starts, by, fmt, W) {
    W = W || 760;
    const names = Object.keys(by);
    if (!starts.length || !names.length) return empty("nothing recorded");
    const Hh = 220, left = 64, bottom = 28, top = 8;
    const totals = starts.map((_, i) => names.reduce((s, n) => s + (by[n][i] || 0), 0));
    const max = Math.max(...totals) || 1;
    const bw = (W - left - 8) / starts.length;
    const s = svg("svg", { viewBox: `0 0 ${W} ${Hh}`, role: "img" });
    for (let t = 0; t <= 4; t++) {
      const y = top + (Hh - top - bottom) * (1 - t / 4);
      s.append(svg("line", { x1: left, x2: W, y1: y, y2: y, stroke: "#eaecf0" }));
      s.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, fmt(max * t / 4)));
    }
    starts.forEach((start, i) => {
      let y = Hh - bottom;
      names.forEach((n, j) => {
        const v = by[n][i] || 0;
        if (v <= 0) return;
        const h = (Hh - top - bottom) * v / max;
        y -= h;
        const r = svg("rect", { x: left + i * bw + 0.5, y, width: Math.max(bw - 1, 1), height: h, fill: COLORS[j % COLORS.length] });
        r.append(svg("title", {}, `${n} ${when(start)}: ${fmt(v)}`));
        s.append(r);
      });
    });
    const ticks = Math.min(starts.length, 5);
    for (let t = 0; t < ticks; t++) {
      const i = Math.floor(t * (starts.length - 1) / Math.max(ticks - 1, 1));
      s.append(svg("text", { x: left + i * bw + bw / 2, y: Hh - 8, "text-anchor": "middle" }, when(starts[i]).slice(5)));
    }
    return el("div", {}, legend(names), s);
  }

  // Horizontal bars: items = [{label, parts: [value...], max?}] stacked per row, against `scale`.
  function hbars(items, partNames, fmt, scale) {
    if (!items.length) return empty("nothing recorded");
    const W = 560, row = 22, left = 190, right = 90;
    const max = scale || Math.max(...items.map((it) => Math.max(it.parts.reduce((a, b) => a + b, 0), it.max || 0))) || 1;
    const s = svg("svg", { viewBox: `0 0 ${W} ${items.length * row + 6}`, role: "img" });
    items.forEach((it, i) => {
      const y = 3 + i * row;
      s.append(svg("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, it.label.length > 30 ? it.label.slice(0, 29) + "…" : it.label));
      let x = left;
      it.parts.forEach((v, j) => {
        const w = (W - left - right) * Math.max(v, 0) / max;
        const r = svg("rect", { x, y: y + 3, width: w, height: row - 8, fill: it.colors ? it.colors[j] : COLORS[j % COLORS.length] });
        r.append(svg("title", {}, `${it.label} ${partNames[j] || ""}: ${fmt(v)}`));
        s.append(r);
        x += w;
      });
      if (it.max) {
        const mx = left + (W - left - right) * it.max / max;
        s.append(svg("line", { x1: mx, x2: mx, y1: y + 1, y2: y + row - 3, stroke: "#1d2330", "stroke-width": 2 }));
      }
      s.append(svg("text", { x: W - right + 6, y: y + 14 }, it.note || fmt(it.parts.reduce((a, b) => a + b, 0))));
    });
    return el("div", {}, partNames.length > 1 ? legend(partNames) : null, s);
  }

  const main = document.getElementById("main");
  document.getElementById("subtitle").textContent =
    `${num(H.records)} call records` + (H.first_ts ? `, ${H.first_ts} to ${H.last_ts}` : "") +
    ` · generated ${DATA.generated_at} · sluicegate ${DATA.version} · state: ${P.state}`;

  // Overview: the totals (equal to `sluicegate usage --json` summed over its groups).
  const T = H.totals;
  const tile = (id, label, value, shown) => el("div", { class: "tile" }, el("div", { class: "v", id, "data-value": String(value) }, shown), el("div", { class: "k" }, label));
  const hitRate = H.cache.answered ? H.cache.hits / H.cache.answered : 0;
  const auditOk = H.audit.every((a) => a.chain === "intact" && !a.truncations.length);
  main.append(section("overview", "Overview", true, el("div", { class: "tiles" },
    tile("total-requests", "requests", T.requests, num(T.requests)),
    tile("total-errors", "errors", T.errors, num(T.errors)),
    tile("total-cost", "spend (USD)", T.cost_usd, usd(T.cost_usd)),
    tile("total-input-tokens", "input tokens", T.input_tokens, num(T.input_tokens)),
    tile("total-output-tokens", "output tokens", T.output_tokens, num(T.output_tokens)),
    tile("cache-hit-rate", "cache hit rate", hitRate, (hitRate * 100).toFixed(1) + "%"),
    el("div", { class: "tile" }, el("div", { class: "v " + (auditOk ? "ok" : "bad"), id: "audit-overall", "data-status": auditOk ? "intact" : "broken" }, auditOk ? "intact" : "BROKEN"), el("div", { class: "k" }, "audit chain")))));

  // Audit verification: chain, signatures, checkpoints, first bad line.
  main.append(section("audit", "Audit log verification", true, H.audit.map((a) => {
    const broken = a.chain !== "intact" || a.truncations.length;
    const cls = broken ? "bad" : a.closed ? "ok" : "warn";
    const text = a.first_bad
      ? `BROKEN at ${a.first_bad.file}:${a.first_bad.line}: ${a.first_bad.reason}`
      : a.truncations.length ? `BROKEN: lines were cut before ${a.truncations[0].file}:${a.truncations[0].line}`
      : a.closed ? `intact and closed: ${num(a.records)} records, ${num(a.checkpoints)} checkpoints`
      : `intact, open end: ${num(a.after_last_checkpoint)} line(s) after the last checkpoint are not anchored (a gateway may still be writing)`;
    return el("div", { class: "audit-log" },
      el("div", { class: "banner " + cls, "data-path": a.path, "data-chain": a.chain, "data-first-bad-line": a.first_bad ? a.first_bad.line : "" },
        el("strong", {}, a.path + ": "), el("span", { class: "audit-status" }, text)),
      numbers(["check", "result"], [
        ["chain", a.chain], ["signatures", a.signatures], ["records", num(a.records)], ["lines", num(a.lines)],
        ["checkpoints", num(a.checkpoints)], ["closed", String(a.closed)], ["files", a.files.join(", ")],
        ["torn lines", a.torn.map((t) => `${t.file}:${t.line}${t.fenced ? " (fenced)" : ""}`).join(", ") || "none"],
        ["writers", a.writers.map((w) => `${w.id || "(none)"}: ${w.lines} lines${w.closed ? ", closed" : ""}`).join("; ")],
        ["first bad line", a.first_bad ? `${a.first_bad.file}:${a.first_bad.line}: ${a.first_bad.reason}` : "none"],
        ["head (anchor)", `${a.lines}:${a.head}`]]));
  })));

  // Spend over time, stacked by a dimension chosen with the buttons.
  const S = H.spend, dims = ["team", "route", "model", "key"];
  const spendChart = el("div", {}), spendNumbers = el("div", {});
  function showSpend(dim) {
    const by = (S.by && S.by[dim]) || {};
    spendChart.replaceChildren(stacked(S.start, by, usd));
    const names = Object.keys(by);
    spendNumbers.replaceChildren(numbers(["from", ...names], S.start.map((t, i) => [when(t), ...names.map((n) => usd(by[n][i]))]), names.map((_, i) => i + 1)));
    tabs.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.dim === dim)));
  }
  const tabs = el("div", { class: "tabs" }, dims.map((d) => { const b = el("button", { "data-dim": d }, d); b.onclick = () => showSpend(d); return b; }));
  main.append(section("spend", "Spend over time", true, tabs, el("p", { class: "muted" }, `bars of ${Math.round(S.width_secs / 60)} min`), spendChart, spendNumbers));
  showSpend("team");

  // Budgets: use against limit, window, projected exhaustion (audit log view, and live view).
  const B = H.budgets;
  const budgetRows = B.map((b) => ({ label: `${b.budget} ${b.value} (${b.window})`, parts: [b.spent_usd], max: b.limit_usd,
    note: `${Math.round(100 * b.spent_usd / b.limit_usd)}% of ${usd(b.limit_usd)}`, colors: [b.spent_usd >= b.limit_usd ? "#b42318" : "#3b6fd8"] }));
  const liveBudgets = (L.budgets || []).map((b) => ({ label: `${b.budget} ${b.value} (${b.window}) live`, parts: [b.spent_usd, b.reserved_usd], max: b.limit_usd,
    note: `${Math.round(100 * (b.spent_usd + b.reserved_usd) / b.limit_usd)}% of ${usd(b.limit_usd)}` }));
  main.append(section("budgets", "Budgets: use against limit", false,
    L.state === "redis" ? (L.error ? el("p", { class: "banner warn" }, "live state unavailable: " + L.error) : el("p", { class: "muted" }, "live rows: read now from Redis (spent, reserved by calls in flight)"))
      : el("p", { class: "muted" }, "state: memory: counters live inside each gateway process; shown from the audit log"),
    hbars(budgetRows.concat(liveBudgets), liveBudgets.length ? ["spent", "reserved"] : ["spent"], usd),
    numbers(["budget", "scope", "value", "window", "spent", "limit", "calls", "projected exhaustion"],
      B.map((b) => [b.budget, b.scope, b.value, b.window + (b.current_window ? " (current)" : ""), usd(b.spent_usd), usd(b.limit_usd), num(b.calls), b.projected_exhaustion || "not at this rate"])
        .concat((L.budgets || []).map((b) => [b.budget, "live", b.value, b.window, usd(b.spent_usd) + " + " + usd(b.reserved_usd) + " reserved", usd(b.limit_usd), "", ""])), [4, 5, 6])));

  // Rejections over time, by policy.
  const R = H.rejections;
  const rejBy = {};
  for (const [kind, m] of Object.entries(R.by || {})) for (const [p, v] of Object.entries(m)) rejBy[`${kind}: ${p}`] = v;
  const rejNames = Object.keys(rejBy);
  main.append(section("rejections", "Rate-limit and budget rejections", false, stacked(R.start, rejBy, num, 560),
    (L.rate_limits || []).length ? hbars(L.rate_limits.map((r) => ({ label: `${r.rate_limit} ${r.unit} ${r.value} live`, parts: [r.in_use], max: r.limit })), [], num) : null,
    numbers(["policy", "rejections"], rejNames.map((n) => [n, num(rejBy[n].reduce((a, b) => a + b, 0))]), [1])));

  // Guardrails: counts by action and rule / entity type (never the matched text).
  const G = H.guardrails, gActions = ["redacted", "logged", "blocked"];
  main.append(section("guardrails", "Guardrail actions", false,
    hbars(G.map((g) => ({ label: `${g.action}: ${g.what}`, parts: [g.count], colors: [COLORS[gActions.indexOf(g.action)]] })), [], num),
    numbers(["action", "rule / entity type", "count"], G.map((g) => [g.action, g.what, num(g.count)]), [2])));

  // Deployments: failed attempts, retries, failovers, breaker-open and saturated skips.
  const D = H.deployments, dParts = ["retries", "failovers", "breaker open", "saturated"];
  main.append(section("deployments", "Retries, failovers and breakers per deployment", false,
    hbars(D.map((d) => ({ label: d.deployment, parts: [d.retries, d.failovers, d.breaker_open, d.saturated] })), dParts, num),
    numbers(["deployment", "attempts", "failed attempts", "retries", "failovers away", "breaker open", "saturated", "other skips"],
      D.map((d) => [d.deployment, num(d.attempts), Object.entries(d.failed).map(([k, v]) => `${k}: ${v}`).join(", ") || "0",
        num(d.retries), num(d.failovers), num(d.breaker_open), num(d.saturated), num(d.other_skips)]), [1, 3, 4, 5, 6, 7])));

  // Latency and time to first token, per deployment.
  const Lat = H.latency.filter((g) => g.group.deployment !== null);
  const ms = (v) => v === null || v === undefined ? "-" : Number(v).toFixed(1) + " ms";
  main.append(section("latency", "Latency and time to first token per deployment", false,
    hbars(Lat.map((g) => ({ label: g.group.deployment, parts: [g.latency_ms.p50 || 0, Math.max((g.latency_ms.p95 || 0) - (g.latency_ms.p50 || 0), 0), Math.max((g.latency_ms.p99 || 0) - (g.latency_ms.p95 || 0), 0)],
      note: `p99 ${ms(g.latency_ms.p99)}` })), ["p50", "to p95", "to p99"], ms),
    numbers(["deployment", "requests", "latency p50", "p95", "p99", "TTFT p50", "p95", "p99"],
      Lat.map((g) => [g.group.deployment, num(g.requests), ms(g.latency_ms.p50), ms(g.latency_ms.p95), ms(g.latency_ms.p99), ms(g.ttft_ms.p50), ms(g.ttft_ms.p95), ms(g.ttft_ms.p99)]), [1, 2, 3, 4, 5, 6, 7])));

  // Cache: hit rate and money saved.
  const C = H.cache;
  main.append(section("cache", "Cache", false,
    el("p", {}, "hit rate ", el("strong", { id: "cache-rate" }, (hitRate * 100).toFixed(1) + "%"), " · saved ", el("strong", { id: "cache-saved", "data-value": String(C.saved_usd) }, usd(C.saved_usd))),
    hbars([{ label: "answered calls", parts: [C.hits, C.answered - C.hits], colors: ["#2e9e6b", "#d0d5dd"] }], ["cache hits", "provider"], num),
    numbers(["answered calls", "cache hits", "saved"], [[num(C.answered), num(C.hits), usd(C.saved_usd)]], [0, 1, 2])));

  // Outcomes.
  const O = Object.entries(H.outcomes);
  main.append(section("outcomes", "Outcomes", false,
    hbars(O.map(([k, v]) => ({ label: k, parts: [v], colors: [k === "ok" ? "#2e9e6b" : "#b42318"] })), [], num),
    numbers(["outcome", "calls"], O.map(([k, v]) => [k, num(v)]), [1])));

  // The effective policy, from the config.
  const list = (xs) => (xs && xs.length ? xs.join(", ") : "-");
  const tags = (t) => Object.entries(t || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "-";
  main.append(section("policy", "Effective policy", true,
    el("p", { class: "muted" }, `require_key: ${P.require_key} · require_tags: ${list(P.require_tags)} · state: ${P.state}`),
    el("h3", {}, "Keys"), P.keys.length ? table(["key", "routes", "tags", "pinned", "expires", "rate limits", "budgets", "guardrails", "residency"],
      P.keys.map((k) => [k.key, list(k.routes), tags(k.tags), list(k.pin_tags), k.expires || "-", list(k.rate_limits), list(k.budgets), list(k.guardrails), list(k.residency)])) : empty("no virtual keys"),
    el("h3", {}, "Rate limits"), P.rate_limits.length ? table(["id", "limit", "applies"], P.rate_limits.map((r) => [r.id, r.limit, r.applies])) : empty("none"),
    el("h3", {}, "Budgets"), P.budgets.length ? table(["id", "limit", "applies", "on exceed"], P.budgets.map((b) => [b.id, b.limit, b.applies, b.on_exceed])) : empty("none"),
    el("h3", {}, "Guardrails"), P.guardrails.length ? table(["name", "detects", "action", "applies to"], P.guardrails.map((g) => [g.name, g.detects, g.action, g.applies_to])) : empty("none"),
    el("h3", {}, "Residency"), P.residency.length ? table(["when", "regions"], P.residency.map((r) => [r.when || "always", list(r.regions)])) : empty("none"),
    el("h3", {}, "Routes"), table(["route", "targets", "fallbacks", "max attempts", "cache ttl (s)"], P.routes.map((r) => [r.route, list(r.targets), list(r.fallbacks), r.max_attempts, r.cache_ttl_secs === null ? "off" : r.cache_ttl_secs])),
    el("h3", {}, "Deployments"), table(["deployment", "provider", "type", "model", "region"], P.deployments.map((d) => [d.deployment, d.provider, d.type, d.model, d.region || "-"]))));

  document.body.setAttribute("data-ready", "true");
})();
