// Starfly dashboard: static, no build step, nothing loaded from elsewhere.
// Reads /v1/sys/health, /v1/identity/jwks, /v1/mcp/tools,
// /v1/signals/status, /v1/federation/revocation-hash, /metrics, and the
// live audit stream /v1/events (server-sent events).
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
const state = { blocks: {}, allowed: {}, latency: [], prevHist: null };

function text(v) { return v === null || v === undefined ? "" : String(v); }

function row(tbody, cells, cls) {
	const tr = document.createElement("tr");
	cells.forEach((c, i) => {
		const td = document.createElement("td");
		td.textContent = text(c);
		td.title = text(c);
		if (cls && cls[i]) td.className = cls[i];
		tr.appendChild(td);
	});
	tbody.insertBefore(tr, tbody.firstChild);
	while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
	return tr;
}

function kv(table, obj) {
	table.textContent = "";
	for (const [k, v] of Object.entries(obj)) {
		const tr = table.insertRow();
		tr.insertCell().textContent = k;
		tr.insertCell().textContent = typeof v === "object" ? JSON.stringify(v) : text(v);
	}
}

async function getJSON(path) {
	const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
	let body = null;
	try { body = await r.json(); } catch (e) { body = null; }
	return { status: r.status, body };
}

// Tabs.
document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => {
	document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("active", x === b));
	document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === "tab-" + b.dataset.tab));
}));

// Health, seal state, keys.
async function refreshHealth() {
	try {
		const h = await getJSON("/v1/sys/health");
		const b = h.body || {};
		$("health").textContent = "health: " + h.status;
		$("health").dataset.state = h.status === 200 ? "ok" : "bad";
		$("seal").textContent = b.locked ? "sealed" : "unsealed";
		$("seal").dataset.state = b.locked ? "bad" : "ok";
		$("unit").textContent = "unit " + text(b.unit_id) + " · " + text(b.mode) + " · v" + text(b.version);
		kv($("healthkv"), Object.assign({ status: h.status }, b));
	} catch (e) {
		$("health").textContent = "health: unreachable";
		$("health").dataset.state = "bad";
	}
}

async function refreshKeys() {
	try {
		const j = await getJSON("/v1/identity/jwks");
		const tb = $("keys");
		tb.textContent = "";
		((j.body && j.body.keys) || []).slice().reverse().forEach((k) => row(tb, [k.kid, k.alg, k.kty, k.crv || ""]));
	} catch (e) { /* shown as empty */ }
}

// MCP tools and signals.
function renderTools(tools) {
	const tb = $("tools");
	tb.textContent = "";
	tools.slice().reverse().forEach((t) => row(tb, [t.tool_id, t.resource_uri,
	    (t.capabilities || []).join(" "), state.allowed[t.tool_id] || 0, state.blocks[t.tool_id] || 0],
	    [null, null, null, "allow", "deny"]));
}

let lastTools = [];
async function refreshTools() {
	try {
		const t = await getJSON("/v1/mcp/tools");
		if (t.status === 200 && t.body) lastTools = t.body.tools || [];
	} catch (e) { /* keep the last list */ }
	renderTools(lastTools);
}

function renderBlocks() {
	const obj = {};
	Object.keys(state.blocks).sort().forEach((k) => { obj[k] = state.blocks[k]; });
	kv($("blocks"), Object.keys(obj).length ? obj : { "(none yet)": "" });
}

async function refreshSignals() {
	try {
		const s = await getJSON("/v1/signals/status");
		kv($("sigstatus"), s.status === 200 && s.body ? s.body : { status: s.status });
		const r = await getJSON("/v1/federation/revocation-hash");
		kv($("revhash"), r.status === 200 && r.body ? r.body : { status: r.status });
	} catch (e) { /* unreachable: left as is */ }
}

// Metrics: counts and the latency chart from the exchange histogram.
function parseMetrics(textBody) {
	const out = {};
	for (const line of textBody.split("\n")) {
		if (!line || line[0] === "#") continue;
		const sp = line.lastIndexOf(" ");
		out[line.slice(0, sp)] = Number(line.slice(sp + 1));
	}
	return out;
}

function sumFamily(m, fam, filter) {
	let s = 0;
	for (const [k, v] of Object.entries(m))
		if ((k === fam || k.startsWith(fam + "{")) && (!filter || k.includes(filter))) s += v;
	return s;
}

function quantile(buckets, q) {
	// buckets: [[le, cumulative count]] ascending; returns seconds.
	const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
	if (total <= 0) return null;
	const want = q * total;
	let prevLe = 0, prevC = 0;
	for (const [le, c] of buckets) {
		if (c >= want) {
			if (!isFinite(le)) return prevLe;
			return prevLe + (le - prevLe) * ((want - prevC) / Math.max(c - prevC, 1));
		}
		prevLe = le; prevC = c;
	}
	return prevLe;
}

async function refreshMetrics() {
	let m;
	try {
		const r = await fetch("/metrics", { cache: "no-store" });
		if (r.status !== 200) return;
		m = parseMetrics(await r.text());
	} catch (e) { return; }
	kv($("counts"), {
		"exchanges": sumFamily(m, "starfly_exchange_requests_total"),
		"exchange denials": sumFamily(m, "starfly_exchange_requests_total") - sumFamily(m, "starfly_exchange_requests_total", 'status="success"'),
		"MCP verifies": sumFamily(m, "starfly_mcp_tool_calls_total"),
		"MCP blocks": sumFamily(m, "starfly_mcp_tool_calls_total", 'decision="deny"'),
		"signals": sumFamily(m, "starfly_signals_received_total"),
		"revocations": sumFamily(m, "starfly_revocation_index_size"),
		"event streams": sumFamily(m, "starfly_sse_clients"),
		"audit records": sumFamily(m, "starfly_audit_records_total"),
	});
	for (const [k, v] of Object.entries(m)) {
		const t = /^starfly_mcp_tool_calls_total\{tool_id="([^"]*)",decision="(allow|deny)"\}$/.exec(k);
		if (!t) continue;
		if (t[2] === "deny") state.blocks[t[1]] = Math.max(state.blocks[t[1]] || 0, v);
		else state.allowed[t[1]] = Math.max(state.allowed[t[1]] || 0, v);
	}
	renderBlocks();
	// Per-interval quantiles from the difference of cumulative buckets.
	const hist = [];
	for (const [k, v] of Object.entries(m)) {
		const b = /^starfly_exchange_duration_seconds_bucket\{le="([^"]+)"\}$/.exec(k);
		if (b) hist.push([b[1] === "+Inf" ? Infinity : Number(b[1]), v]);
	}
	hist.sort((a, b) => a[0] - b[0]);
	if (state.prevHist && state.prevHist.length === hist.length) {
		const d = hist.map(([le, c], i) => [le, c - state.prevHist[i][1]]);
		const n = d.length ? d[d.length - 1][1] : 0;
		state.latency.push({ p50: quantile(d, 0.5), p95: quantile(d, 0.95), n });
		if (state.latency.length > 90) state.latency.shift();
		drawLatency();
	}
	state.prevHist = hist;
}

function drawLatency() {
	const c = $("latency"), g = c.getContext("2d");
	const W = c.width, H = c.height, pad = 28;
	g.clearRect(0, 0, W, H);
	const pts = state.latency;
	let max = 0;
	pts.forEach((p) => { if (p.p95 !== null) max = Math.max(max, p.p95); });
	max = max > 0 ? max * 1.2 : 0.001;
	g.strokeStyle = "#2a3440";
	g.fillStyle = "#8a96a3";
	g.font = "11px sans-serif";
	for (let i = 0; i <= 4; i++) {
		const y = H - pad + ((pad * 2 - H) * i) / 4 + 0.5;
		g.beginPath(); g.moveTo(pad, y); g.lineTo(W - 4, y); g.stroke();
		g.fillText((max * i / 4 * 1000).toFixed(2) + " ms", 2, y - 2);
	}
	const line = (key, color) => {
		g.strokeStyle = color;
		g.beginPath();
		let started = false;
		pts.forEach((p, i) => {
			if (p[key] === null) { started = false; return; }
			const x = pad + ((W - pad - 4) * i) / 89;
			const y = H - pad - ((H - pad * 2) * p[key]) / max;
			if (started) g.lineTo(x, y); else g.moveTo(x, y);
			started = true;
		});
		g.stroke();
	};
	line("p50", "#58a6ff");
	line("p95", "#d29922");
	const last = pts[pts.length - 1] || {};
	$("latency-legend").textContent = "p50 (blue) " + (last.p50 != null ? (last.p50 * 1e6).toFixed(0) + " µs" : "–") +
	    " · p95 (amber) " + (last.p95 != null ? (last.p95 * 1e6).toFixed(0) + " µs" : "–") +
	    " · " + (last.n || 0) + " exchanges in the last 2 s";
}

// The live stream.
function decisionClass(d) { return d === "allow" ? "allow" : (d === "deny" || d === "error" ? "deny" : ""); }

function onRecord(r) {
	const t = (r.time || "").replace("T", " ").replace("Z", "");
	const dc = decisionClass(r.decision);
	if (!($("only-deny").checked && dc !== "deny")) {
		const tr = row($("feed"), [r.seq, t, r.type, r.action, r.subject, r.target, r.decision, r.reason],
		    [null, null, null, null, null, null, dc, null]);
		tr.dataset.type = text(r.type);
		tr.dataset.decision = text(r.decision);
	}
	if (r.type === "verify") {
		row($("verifies"), [r.seq, t, r.target, r.subject, r.decision, r.reason], [null, null, null, null, dc, null]);
		const tool = text(r.target) || "(unknown)";
		if (dc === "deny") state.blocks[tool] = (state.blocks[tool] || 0) + 1;
		else if (dc === "allow") state.allowed[tool] = (state.allowed[tool] || 0) + 1;
		renderBlocks();
		renderTools(lastTools);
	}
	if (r.type === "signal" || r.type === "revocation")
		row($("sigfeed"), [r.seq, t, r.type, r.action, r.subject, r.decision, r.reason], [null, null, null, null, null, dc, null]);
	if (r.type === "seal") refreshHealth();
	if (r.type === "tool") refreshTools();
	if (r.type === "key") refreshKeys();
}

function connect() {
	const es = new EventSource("/v1/events");
	es.onopen = () => { $("stream").textContent = "events: live"; $("stream").dataset.state = "ok"; };
	es.onerror = () => { $("stream").textContent = "events: reconnecting"; $("stream").dataset.state = "warn"; };
	es.onmessage = (ev) => {
		try { onRecord(JSON.parse(ev.data)); } catch (e) { /* not a record */ }
	};
}

// Seal / unseal forms.
$("unseal-form").addEventListener("submit", async (e) => {
	e.preventDefault();
	const r = await fetch("/v1/sys/unseal", { method: "POST", headers: { "Content-Type": "application/json" },
	    body: JSON.stringify({ key: $("unseal-key").value }) });
	$("unseal-key").value = "";
	const b = await r.json().catch(() => ({}));
	$("seal-result").textContent = "unseal: " + r.status + " " + (b.error_description || (b.locked === false ? "unsealed" : ""));
	refreshHealth();
});
$("seal-form").addEventListener("submit", async (e) => {
	e.preventDefault();
	const r = await fetch("/v1/sys/seal", { method: "POST", headers: { Authorization: "Bearer " + $("admin-token").value,
	    "Content-Type": "application/json" }, body: "{}" });
	$("admin-token").value = "";
	const b = await r.json().catch(() => ({}));
	$("seal-result").textContent = "seal: " + r.status + " " + (b.error_description || (b.locked ? "sealed" : ""));
	refreshHealth();
});

connect();
refreshHealth(); refreshKeys(); refreshTools(); refreshSignals(); refreshMetrics();
setInterval(refreshHealth, 5000);
setInterval(refreshMetrics, 2000);
setInterval(refreshTools, 10000);
setInterval(refreshSignals, 10000);
setInterval(refreshKeys, 30000);
