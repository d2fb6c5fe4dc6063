// The dashboard as the abuse desk uses it, in Debian's headless chromium
// driven by puppeteer-core. Started by tests/integration/test_browser_dashboard.sh
// with BASE (the api role's URL), VIEWER and OPERATOR tokens, CASE_ID and RELAY
// (the blocked open relay's case and address; its simulator already closed),
// SHOTS (screenshot directory) and USER_DATA_DIR (a fresh profile).
// Prints PASS/FAIL lines in the suite's format; exits non-zero on a crash.
import puppeteer from "puppeteer-core";
import fs from "node:fs";
import path from "node:path";

const { BASE, VIEWER, OPERATOR, CASE_ID, RELAY, SHOTS, USER_DATA_DIR } = process.env;
const SUITE = process.env.SUITE || "browser_dashboard";
const origin = new URL(BASE).origin;
let failures = 0;

const pass = (name) => console.log(`PASS ${SUITE}: ${name}`);
const fail = (name, why) => { failures++; console.log(`FAIL ${SUITE}: ${name}: ${why}`); };
const checkEq = (name, got, want) => (got === want ? pass(name) : fail(name, `got '${got}', want '${want}'`));
const check = (name, ok, why) => (ok ? pass(name) : fail(name, why));

fs.rmSync(USER_DATA_DIR, { recursive: true, force: true });
fs.mkdirSync(SHOTS, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${USER_DATA_DIR}`],
  defaultViewport: { width: 1280, height: 800, deviceScaleFactor: 1 },
});

// Every request any page makes, and every complaint of the console (CSP reports land there).
const requests = [];
const problems = [];
async function newPage() {
  const page = await browser.newPage();
  page.on("request", (r) => requests.push(r.url()));
  // The refusals this test provokes on purpose (403, 409, 422) are not problems.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (40[39]|422) /.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(20000);
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`) });
}

const text = (page, sel) => page.$eval(sel, (el) => el.textContent.trim());

async function signIn(page, token) {
  await page.goto(`${BASE}/`, { waitUntil: "load" });
  await page.waitForSelector("#token");
  await page.type("#token", token);
  await Promise.all([page.waitForSelector("#main[data-page=overview]"), page.click("form.signin button")]);
}

// A step that throws is a failure with its message, and leaves a screenshot to read.
async function step(page, name, fn) {
  try {
    await fn();
  } catch (e) {
    fail(name, e.message.split("\n")[0]);
    await page.screenshot({ path: path.join(SHOTS, `failed-${name.replace(/\W+/g, "-")}.png`) }).catch(() => {});
  }
}

// The proving exchange: the marked lines of the transcript.
const marked = (page) => page.$$eval(".transcript mark", (ms) => ms.map((m) => m.textContent).join(""));

// ---- viewer ---------------------------------------------------------------
const viewer = await newPage();
await step(viewer, "viewer signs in and sees the role", async () => {
  await signIn(viewer, VIEWER);
  checkEq("viewer signs in and sees the role", await text(viewer, "#who .badge"), "viewer");
});
await step(viewer, "viewer finds the blocked case from the overview", async () => {
  await viewer.waitForSelector("#trend");
  await Promise.all([viewer.waitForSelector("#main[data-page=cases]"), viewer.click("a[data-state=blocked]")]);
  const rows = await viewer.$$eval("main tbody tr", (trs) => trs.map((tr) => tr.textContent));
  check("viewer finds the blocked case from the overview", rows.some((r) => r.includes(RELAY) && r.includes(`#${CASE_ID}`)),
    `cases listed: ${JSON.stringify(rows)}`);
  await Promise.all([viewer.waitForSelector("#case-state"), viewer.click(`a[href="#/case/${CASE_ID}"]`)]);
  checkEq("the case page shows it blocked", await text(viewer, "#case-state"), "blocked");
  checkEq("a viewer sees no action buttons", await viewer.$$eval("button.action, .actions button", (b) => b.length), 0);
  check("a viewer's case page still shows the evidence", (await marked(viewer)).includes("RCPT TO"),
    "no marked RCPT TO in the transcript");
});
await step(viewer, "a forged action request with a viewer token is refused", async () => {
  // What a viewer could do by hand from the page's own origin: the API must refuse it.
  const res = await viewer.evaluate(async (id, token) => {
    const r = await fetch(`/v1/cases/${id}/actions`, {
      method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ action: "unblock" }) });
    const retest = await fetch(`/v1/targets/${encodeURIComponent(document.querySelector("#case-facts a").textContent)}/retest`,
      { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    return `${r.status} ${(await r.json()).error.code} ${retest.status}`;
  }, CASE_ID, VIEWER);
  checkEq("a forged action request with a viewer token is refused", res, "403 forbidden 403");
});
await viewer.close();

// ---- operator -------------------------------------------------------------
const op = await newPage();
await step(op, "operator signs in and sees the role", async () => {
  await signIn(op, OPERATOR);
  checkEq("operator signs in and sees the role", await text(op, "#who .badge"), "operator");
});
await step(op, "the overview shows counts, the chart and the nodes", async () => {
  await op.waitForFunction(() => window.Chart && document.querySelector("#trend"));
  checkEq("the overview counts one blocked case", await text(op, "a[data-state=blocked] .n"), "1");
  check("the overview's chart is drawn by Chart.js", await op.$eval("#trend", (c) => !!window.Chart.getChart(c)),
    "no chart on #trend");
  check("the overview lists the daemon's node with its last beat",
    (await op.$eval("main", (m) => m.textContent)).includes("browser-test"), "node browser-test not listed");
  check("the overview shows the queues", /\d+ pending, \d+ failing/.test(await text(op, "#enforcer")), "no enforcer queue");
  await shot(op, "overview");
});
await step(op, "operator opens the confirmed relay's case from the overview", async () => {
  await Promise.all([op.waitForSelector("#case-state"), op.click(`main a[href="#/case/${CASE_ID}"]`)]);
  const facts = await text(op, "#case-facts");
  check("the case is a confirmed relay", facts.includes("relay_confirmed") && facts.includes(RELAY), facts);
  const mark = await marked(op);
  check("the proving exchange is highlighted (MAIL FROM through RCPT TO and DATA)",
    /C: MAIL FROM:/.test(mark) && /C: RCPT TO:/.test(mark) && /C: DATA/.test(mark), `marked: ${mark.slice(0, 300)}`);
  const receipts = await op.$$eval("h3", (hs) => {
    const h = hs.find((x) => x.textContent === "Sink receipts");
    return h ? h.nextElementSibling.querySelectorAll("tbody tr td:not(.empty)").length : 0;
  });
  check("the sink's receipt is shown", receipts > 0, "no receipt row");
  const timeline = await op.$$eval("section", (ss) => ss.find((s) => s.querySelector("h2")?.textContent === "Timeline")?.textContent || "");
  check("the timeline names the actors", timeline.includes("blocked") && /system|workflow/.test(timeline), timeline.slice(0, 300));
  await op.waitForSelector(".mail .mailbody");
  const mail = await text(op, ".mail");
  check("the mail is shown as the customer saw it (decoded, with subject)", mail.includes(RELAY) && mail.includes("Subject:") && !/=3D|=C3|=20/.test(mail),
    mail.slice(0, 300));
  const enforcer = await op.$$eval("section", (ss) => ss.find((s) => s.querySelector("h2")?.textContent === "Enforcer actions")?.textContent || "");
  check("the enforcer's block is listed with its result", enforcer.includes("block") && enforcer.includes("done"), enforcer.slice(0, 300));
  await shot(op, "case");
});
await step(op, "re-test now resolves the case and lifts the block", async () => {
  const buttons = await op.$$eval("button.action", (bs) => bs.map((b) => b.textContent));
  check("an operator sees the actions", ["Re-test now", "Escalate", "Unblock", "Close", "Add note"].every((b) => buttons.includes(b)),
    `buttons: ${buttons}`);
  // Escalate first (the workflow applies it and the enforcer hook runs), then re-test.
  const [escalate] = await op.$$("xpath/.//button[text()='Escalate']");
  await escalate.click();
  await op.waitForSelector("dialog[open]");
  await op.click("#confirm-ok");
  await op.waitForFunction(() => document.querySelector("#case-state")?.textContent === "escalated", { timeout: 30000 });
  pass("escalate: the workflow escalates the case");
  check("escalate is no longer offered", !(await op.$$eval("button.action", (bs) => bs.map((b) => b.textContent))).includes("Escalate"),
    "the Escalate button is still there");
  const [retest] = await op.$$("xpath/.//button[text()='Re-test now']");
  await retest.click();
  await op.waitForSelector("dialog[open]");
  check("re-test asks for confirmation", (await text(op, "#confirm-text")).includes(RELAY), "no confirmation");
  await op.click("#confirm-ok");
  await op.waitForFunction(() => document.querySelector("#case-state")?.textContent === "resolved", { timeout: 90000 });
  pass("re-test now resolves the case");
  await op.waitForFunction(() => document.querySelector("#case-blocked")?.textContent === "no", { timeout: 30000 });
  pass("the case page shows the block lifted");
  await op.goto(`${BASE}/#/blocklist`);
  await op.waitForSelector("#main[data-page=blocklist]");
  const list = await text(op, "main");
  check("the blocklist no longer has the address", !list.includes(RELAY) && list.includes("0 blocked"), list.slice(0, 300));
});
await step(op, "a refused action shows the API's error", async () => {
  await op.goto(`${BASE}/#/case/${CASE_ID}`);
  await op.waitForSelector("#case-state");
  // The case is resolved and no longer blocked; an unblock sent anyway is refused with 409.
  await op.evaluate(() => document.querySelector("#status").textContent = "");
  const [closeBtn] = await op.$$("xpath/.//button[text()='Add note']");
  await closeBtn.click();
  await op.waitForSelector("dialog[open]");
  await op.click("#confirm-ok"); // an empty note: refused before any request
  await op.waitForFunction(() => document.querySelector("#status").textContent.includes("note is needed"));
  pass("an empty note is refused with a message");
  const res = await op.evaluate(async (id, token) => {
    const r = await fetch(`/v1/cases/${id}/actions`, { method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ action: "unblock" }) });
    return r.status;
  }, CASE_ID, OPERATOR);
  checkEq("the API refuses an unblock of a resolved case", res, 409);
});
await step(op, "operator starts a sweep and watches it to its summary", async () => {
  await op.goto(`${BASE}/#/sweeps`);
  await op.waitForSelector("#s-scope");
  await op.select("#s-scope", "all");
  await op.click("form[aria-label='Start a sweep'] button");
  await op.waitForSelector("dialog[open]");
  await op.click("#confirm-ok");
  await op.waitForSelector("#main[data-page=sweep] progress");
  await op.waitForFunction(() => document.querySelector("main h2")?.textContent === "Summary of verdicts", { timeout: 90000 });
  const summary = await text(op, "main");
  check("the sweep's summary counts the closed verdicts", /closed\s*2/.test(summary), summary.slice(0, 300));
  await shot(op, "sweep");
});
await step(op, "customers and targets: search and probe history", async () => {
  await op.goto(`${BASE}/#/targets?q=relay`);
  await op.waitForSelector("a[href='#/customer/cust-relay']");
  await Promise.all([op.waitForSelector("#main[data-page=customer]"), op.click("a[href='#/customer/cust-relay']")]);
  checkEq("the customer page shows the mail domains on record", await text(op, "#customer-domains"),
    "open-relay.example, mail.open-relay.example");
  await Promise.all([op.waitForSelector("#main[data-page=target]"), op.click(`a[href='#/target/${RELAY}']`)]);
  const hist = await op.$$eval("table caption", (cs) => cs.find((c) => c.textContent === "Probe history")
    ?.parentElement.querySelectorAll("tbody tr").length || 0);
  check("a target's probe history lists its probes", hist >= 2, `got ${hist} rows`);
});

await step(op, "an operator edits the customer's mail domains", async () => {
  await op.goto(`${BASE}/#/customer/cust-relay`);
  await op.waitForSelector("#main[data-page=customer] #c-domains");
  const save = async (value) => {
    await op.evaluate(() => { document.querySelector("#status").textContent = ""; });
    await op.$eval("#c-domains", (el, v) => { el.value = v; }, value);
    await op.click("form[aria-label='Mail domains on record'] button");
    await op.waitForFunction(() => document.querySelector("#status").textContent !== "");
    return text(op, "#status");
  };
  const refused = await save("open-relay.example not_a_domain");
  check("a bad domain is refused with its name and reason", refused.includes("not_a_domain") && refused.includes("not a domain name"), refused);
  checkEq("a refused edit changes nothing", await text(op, "#customer-domains"), "open-relay.example, mail.open-relay.example");
  const saved = await save("Open-Relay.example; shop.example");
  check("saved domains are confirmed in their normal form", saved.includes("open-relay.example, shop.example"), saved);
  await op.waitForFunction(() => document.querySelector("#customer-domains")?.textContent === "open-relay.example, shop.example");
  pass("the customer page shows the saved domains");
  await shot(op, "customer");
});

// Keyboard: the sign-in form and the navigation work without a mouse.
const kb = await newPage();
await step(kb, "the dashboard is usable with the keyboard", async () => {
  await kb.goto(`${BASE}/`);
  await kb.waitForSelector("#token");
  await kb.keyboard.type(VIEWER); // the token field has the focus
  await kb.keyboard.press("Enter");
  await kb.waitForSelector("#main[data-page=overview]");
  await kb.focus("#nav a[href='#/cases']");
  await kb.keyboard.press("Enter");
  await kb.waitForSelector("#main[data-page=cases]");
  await kb.keyboard.press("/");
  checkEq("the dashboard is usable with the keyboard", await kb.evaluate(() => document.activeElement.id), "f-q");
});

const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"));
check(`every request goes to the page's own host (${requests.length} requests)`, requests.length > 0 && foreign.length === 0,
  `foreign: ${foreign.slice(0, 5).join(" ")}`);
check("no console errors or CSP violations", problems.length === 0, problems.slice(0, 3).join(" | "));

await browser.close();
fs.rmSync(USER_DATA_DIR, { recursive: true, force: true });
// The checks printed their own PASS/FAIL lines; a non-zero exit means the script crashed.
process.exit(0);
