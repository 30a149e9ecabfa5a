// dashboard.mjs - drive the dashboard (www/) in Debian's headless
// Chromium with playwright-core against a running unit: the page loads
// from the unit alone (no other origin), its event stream goes live, an
// exchange and a blocked MCP verify show up in the live feed and the MCP
// Security tab, a seal shows up and flips the seal pill; a screenshot is
// saved.  Env: UNIT_URL, UNIT_CONF, TOP, OUT (screenshot directory).
// Prints "PASS dashboard: ..." / "FAIL dashboard: ...: why" lines.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.env.UNIT_URL;
const conf = process.env.UNIT_CONF;
const top = process.env.TOP;
const out = process.env.OUT || "build/test-output";
let fails = 0;
const pass = (n) => console.log(`PASS dashboard: ${n}`);
const fail = (n, why) => { console.log(`FAIL dashboard: ${n}: ${why}`); fails++; };
async function check(name, fn) {
	try { await fn(); pass(name); } catch (e) { fail(name, String(e.message || e).split("\n")[0]); }
}

function stub() {
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
	return b64({ alg: "RS256", typ: "JWT" }) + "." + b64({ sub: "system:serviceaccount:dash:agent",
	    iss: "https://kubernetes.default.svc", namespace: "dash", serviceaccount: "agent",
	    exp: Math.floor(Date.now() / 1000) + 600 }) + ".stub";
}

const profile = mkdtempSync(join(tmpdir(), "starfly-chromium-"));
// A fresh profile directory (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
	executablePath: "/usr/bin/chromium",
	headless: true,
	viewport: { width: 1280, height: 900 },
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
	const page = await browser.newPage();
	const origin = new URL(url).origin;
	const foreign = [];
	const errors = [];
	page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) foreign.push(r.url()); });
	page.on("pageerror", (e) => errors.push(String(e)));
	await check("page loads from the unit", async () => {
		const r = await page.goto(url + "/", { waitUntil: "load" });
		if (!r || r.status() !== 200) throw new Error(`status ${r && r.status()}`);
		if ((await page.title()) !== "Starfly unit") throw new Error("not the dashboard");
	});
	await check("event stream goes live", () =>
	    page.waitForFunction(() => document.getElementById("stream").textContent === "events: live", null, { timeout: 10000 }));
	await check("health and keys shown", async () => {
		await page.waitForFunction(() => /unsealed/.test(document.getElementById("seal").textContent) &&
		    document.querySelectorAll("#keys tr").length > 0, null, { timeout: 10000 });
	});

	// An exchange, and a verify that must be blocked (a token not ours).
	const ex = await fetch(url + "/v1/exchange/token", { method: "POST", headers: { "Content-Type": "application/json" },
	    body: JSON.stringify({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: stub(),
	        subject_token_type: "urn:ietf:params:oauth:token-type:jwt", audience: "https://api.example.com" }) });
	const tool = "dash-tool-" + Date.now();
	await fetch(url + "/v1/mcp/tools", { method: "POST", headers: { "Content-Type": "application/json" },
	    body: JSON.stringify({ tool_id: tool, resource_uri: "https://tools.example.com/" + tool, capabilities: ["read"] }) });
	const vr = await fetch(url + "/v1/mcp/verify", { method: "POST", headers: { "Content-Type": "application/json" },
	    body: JSON.stringify({ token: stub(), tool_id: tool }) });
	await check(`blocked verify answered 403 (got ${vr.status})`, async () => { if (vr.status !== 403) throw new Error(String(vr.status)); });
	await check(`exchange appears in the live feed (HTTP ${ex.status})`, () =>
	    page.waitForSelector('#feed tr[data-type="exchange"]', { timeout: 10000 }));
	await check("blocked verify appears in the live feed", () =>
	    page.waitForSelector('#feed tr[data-type="verify"][data-decision="deny"]', { timeout: 10000 }));
	await page.click('nav button[data-tab="mcp"]');
	await check("MCP Security tab lists the verify decision and a block for the tool", async () => {
		await page.waitForFunction((t) => [...document.querySelectorAll("#verifies tr")].some((r) => r.textContent.includes(t)) &&
		    document.getElementById("blocks").textContent.includes(t), tool, { timeout: 10000 });
	});
	await page.click('nav button[data-tab="feed"]');

	// A seal from the operator's command: the feed and the pill follow.
	execFileSync(join(top, "bin/starflyctl"), ["--config", conf, "seal"], { stdio: "ignore" });
	await check("seal appears in the feed and the seal pill turns", async () => {
		await page.waitForSelector('#feed tr[data-type="seal"]', { timeout: 10000 });
		await page.waitForFunction(() => document.getElementById("seal").textContent === "sealed", null, { timeout: 10000 });
	});
	const key = readFileSync(join(process.env.UNIT_VAR, "unseal.key"), "utf8").trim();
	execFileSync(join(top, "bin/starflyctl"), ["--config", conf, "unseal"], { input: key + "\n", stdio: ["pipe", "ignore", "ignore"] });
	await check("latency chart drawn from /metrics", () =>
	    page.waitForFunction(() => /p50/.test(document.getElementById("latency-legend").textContent), null, { timeout: 10000 }));
	await check("nothing loaded from another origin", async () => { if (foreign.length) throw new Error(foreign.join(" ")); });
	await check("no script errors", async () => { if (errors.length) throw new Error(errors.join(" | ")); });
	await page.screenshot({ path: join(out, "dashboard.png"), fullPage: true });
	pass(`screenshot saved to ${join(out, "dashboard.png")}`);
} finally {
	await browser.close();
	rmSync(profile, { recursive: true, force: true });
}
process.exit(fails ? 1 : 0);
