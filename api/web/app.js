// The abuse desk's dashboard: a hash router and one function per page, each a
// client of the JSON API under /v1 (the same calls curl makes). Pages that
// watch something (overview, a case, a sweep) refresh themselves on a timer.
import { session, may, api, qs, h, table, when, ago, duration, badge, parseMail, download } from "./lib.js";

const main = document.getElementById("main");
const statusEl = document.getElementById("status");
const CASE_STATES = ["open", "notified", "blocked", "escalated", "resolved", "closed"];
const FINDINGS = ["relay_confirmed", "accepted_not_relayed", "backscatter", "complaint"];
let refreshTimer = null;
let chart = null;

function say(text, bad) {
  statusEl.textContent = text;
  statusEl.className = `status ${bad ? "bad" : "good"}`;
}

// Pages refresh themselves, but never under a reader who is in the middle of
// something: a dialog is open or the focus is on a control of the page.
function idle() {
  const a = document.activeElement;
  return !document.querySelector("dialog[open]") && !(a && a !== main && main.contains(a));
}

function refreshEvery(ms, fn) {
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { if (idle()) fn().catch((e) => say(e.message, true)); }, ms);
}

function page(title, ...children) {
  document.title = `${title} · relayaudit`;
  // replaceChildren would print a null as "null": absent parts are dropped here.
  main.replaceChildren(h("h1", {}, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function link(href, text) { return h("a", { href }, text); }
function caseLink(id) { return link(`#/case/${id}`, `#${id}`); }
function targetLink(addr) { return link(`#/target/${encodeURIComponent(addr)}`, addr); }

// ---- sign-in -------------------------------------------------------------

function signIn() {
  clearInterval(refreshTimer);
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true, size: 48 });
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "signin", "aria-label": "Sign in" },
    h("label", { for: "token" }, "API token"), input,
    h("button", { type: "submit" }, "Sign in"), err,
    h("p", { class: "hint" }, "A token from ", h("code", {}, "relayctl token create --role viewer|operator"),
      ". It stays in this tab only (session storage)."));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    session.token = input.value.trim();
    try {
      await whoami();
      if (!location.hash || location.hash === "#/signin") location.hash = "#/overview";
      else route();
    } catch (e) {
      session.token = null;
      err.textContent = `Sign-in refused: ${e.message}`;
    }
  });
  page("Sign in", form);
  showWho();
  input.focus();
}

async function whoami() {
  session.who = await api("GET", "/v1/whoami");
  showWho();
}

function showWho() {
  const who = document.getElementById("who");
  const signed = session.who !== null;
  document.getElementById("nav").hidden = !signed;
  document.getElementById("signout").hidden = !signed;
  who.hidden = !signed;
  who.replaceChildren(...(signed ? [session.who.name, " ", badge(session.who.role, "role")] : []));
  document.body.dataset.role = signed ? session.who.role : "";
}

document.getElementById("signout").addEventListener("click", () => {
  session.token = null;
  session.who = null;
  location.hash = "#/signin";
});

// ---- confirmation --------------------------------------------------------

// Asks before any action; resolves to the note (or "") when confirmed, null when not.
function confirmAction(text, wantNote) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  const note = document.getElementById("confirm-note");
  note.value = "";
  document.getElementById("confirm-note-label").hidden = !wantNote;
  dlg.returnValue = "";
  dlg.showModal();
  (wantNote ? note : document.getElementById("confirm-ok")).focus();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok" ? note.value : null), { once: true });
  });
}

// Runs an operator action after confirmation; the API's refusal is shown as it came.
async function act(label, question, fn, wantNote) {
  const note = await confirmAction(question, wantNote);
  if (note === null) return;
  if (wantNote && !note.trim()) { say(`${label}: a note is needed`, true); return; }
  try {
    const res = await fn(note);
    say(`${label}: ${res && res.status ? res.status : "done"}`);
  } catch (e) {
    say(`${label} refused: ${e.message}`, true);
  }
  route();
}

// ---- overview ------------------------------------------------------------

async function overview() {
  const [stats, running, last, health, blocked] = await Promise.all([
    api("GET", "/v1/stats"),
    api("GET", "/v1/sweeps?running=true&limit=10"),
    api("GET", "/v1/sweeps?limit=1"),
    api("GET", "/v1/health").catch(() => ({ nodes: [] })),
    api("GET", "/v1/cases?state=blocked&limit=10"),
  ]);
  const open = CASE_STATES.filter((s) => s !== "resolved" && s !== "closed");
  const cards = h("ul", { class: "cards", "aria-label": "Cases by state" },
    CASE_STATES.map((s) => h("li", { class: open.includes(s) ? "open" : "done" },
      h("a", { href: `#/cases?state=${s}`, dataset: { state: s } },
        h("span", { class: "n" }, String(stats.cases[s] || 0)), h("span", {}, s)))));
  const ttr = stats.time_to_remediate || {};
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Median time to remediate"), h("dd", { id: "ttr" }, duration(ttr.median_seconds),
      ` (${ttr.resolved || 0} resolved in ${ttr.window_days || 30} days)`),
    h("dt", {}, "Blocked now"), h("dd", {}, link("#/blocklist", String(stats.blocked))),
    h("dt", {}, "Targets"), h("dd", {}, link("#/targets", String(stats.targets))),
    h("dt", {}, "Outbox (mails)"), h("dd", { id: "outbox" }, queue(stats.outbox)),
    h("dt", {}, "Enforcer queue"), h("dd", { id: "enforcer" }, queue(stats.enforcer)));
  const canvas = h("canvas", { id: "trend", width: 800, height: 220, role: "img",
    "aria-label": "Cases opened and resolved per day, last 30 days" });
  const lastSweep = last.items[0];
  page("Overview",
    h("section", {}, h("h2", {}, "Open cases"), cards, facts),
    h("section", {}, h("h2", {}, "Blocked cases"),
      table(["Case", "Address", "Customer", "Finding", "Blocked since"],
        blocked.items.map((c) => [caseLink(c.id), targetLink(c.address), c.customer || "—",
          badge(c.finding), ago(c.blocked_at)]))),
    h("section", {}, h("h2", {}, "Findings and resolutions"), h("div", { class: "chart" }, canvas)),
    h("section", {}, h("h2", {}, "Sweeps in progress"),
      running.items.length ? running.items.map(sweepProgress) : h("p", {}, "None running."),
      h("h2", {}, "Last sweep"),
      lastSweep ? [h("p", {}, link(`#/sweep/${lastSweep.id}`, `Sweep ${lastSweep.id}`), ` (${lastSweep.scope}`,
        lastSweep.cidr ? ` ${lastSweep.cidr}` : "", lastSweep.customer ? ` ${lastSweep.customer}` : "",
        `), started ${ago(lastSweep.created_at)}`), verdictTable(lastSweep.verdicts)]
        : h("p", {}, "No sweep yet.")),
    h("section", {}, h("h2", {}, "Nodes"),
      table(["Node", "Roles", "Last beat", "In flight", "Alive"],
        (health.nodes || []).map((n) => [n.name, n.roles, ago(n.last_seen), String(n.in_flight),
          badge(n.alive ? "alive" : "silent")]))));
  drawTrend(canvas, stats.per_day || []);
  refreshEvery(10000, overview);
}

function queue(q) {
  q = q || {};
  return `${q.pending || 0} pending, ${q.failed || 0} failing`;
}

function drawTrend(canvas, days) {
  if (chart) { chart.destroy(); chart = null; }
  if (!window.Chart) return;
  chart = new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: days.map((d) => d.day.slice(5)),
      datasets: [
        { label: "opened", data: days.map((d) => d.opened), backgroundColor: "#c0392b" },
        { label: "resolved", data: days.map((d) => d.resolved), backgroundColor: "#2e8b57" },
      ],
    },
    options: { animation: false, responsive: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function verdictTable(verdicts) {
  const rows = Object.entries(verdicts || {}).sort((a, b) => b[1] - a[1]);
  return table(["Verdict", "Targets"], rows.map(([v, n]) => [badge(v), String(n)]));
}

function sweepProgress(s) {
  const pct = s.total ? Math.floor((100 * s.done) / s.total) : 100;
  const elapsed = (Date.now() - new Date(s.created_at).getTime()) / 1000;
  const eta = s.done > 0 && s.done < s.total ? ((s.total - s.done) * elapsed) / s.done : null;
  return h("div", { class: "sweep" },
    link(`#/sweep/${s.id}`, `Sweep ${s.id}`), ` ${s.scope}${s.cidr ? ` ${s.cidr}` : ""}${s.customer ? ` ${s.customer}` : ""} `,
    h("progress", { max: s.total || 1, value: s.done, "aria-label": `sweep ${s.id} progress` }),
    ` ${s.done} / ${s.total} (${pct} %)`,
    s.finished ? " finished" : eta !== null ? `, about ${duration(eta)} left` : ", waiting for the first results");
}

// ---- cases ---------------------------------------------------------------

// The search box takes an address or CIDR, a case number (#12 or 12) or a customer id.
function searchToFilters(q) {
  q = q.trim();
  if (!q) return {};
  if (/^#?\d+$/.test(q) && !q.includes(".")) return { goto: q.replace("#", "") };
  if (/^[0-9a-f:.]+(\/\d+)?$/i.test(q) && (q.includes(".") || q.includes(":"))) return { cidr: q };
  return { customer: q };
}

async function casesList(params) {
  const p = Object.fromEntries(params);
  const filters = { state: p.state, finding: p.finding, customer: p.customer, cidr: p.cidr };
  const list = await api("GET", `/v1/cases${qs({ ...filters, limit: p.limit || 25, cursor: p.cursor })}`);
  const select = (name, choices) => h("select", { name, id: `f-${name}` },
    h("option", { value: "" }, "any"),
    choices.map((c) => h("option", { value: c, selected: p[name] === c }, c)));
  const search = h("input", { name: "q", id: "f-q", type: "search", placeholder: "address, CIDR, case #, customer id",
    value: p.q || "", size: 32 });
  const form = h("form", { class: "filters", role: "search" },
    h("label", {}, "State ", select("state", CASE_STATES)),
    h("label", {}, "Finding ", select("finding", FINDINGS)),
    h("label", {}, "Customer ", h("input", { name: "customer", value: p.customer || "", size: 12 })),
    h("label", {}, "Address / CIDR ", h("input", { name: "cidr", value: p.cidr || "", size: 18 })),
    h("label", {}, "Search ", search),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const s = searchToFilters(f.q || "");
    if (s.goto) { location.hash = `#/case/${s.goto}`; return; }
    delete f.q;
    location.hash = `#/cases${qs({ ...f, ...s })}`;
  });
  const prevStack = (p.prev || "").split(",").filter(Boolean);
  const nav = h("nav", { class: "pager", "aria-label": "Pages" },
    p.cursor ? link(`#/cases${qs({ ...filters, cursor: prevStack.pop() || "", prev: prevStack.join(",") })}`, "← newer") : null,
    list.next_cursor ? link(`#/cases${qs({ ...filters, cursor: list.next_cursor,
      prev: [...(p.prev || "").split(",").filter(Boolean), p.cursor || ""].join(",") })}`, "older →") : null);
  page("Cases", form,
    table(["Case", "Address", "Customer", "State", "Finding", "Blocked", "Opened", "Updated"],
      list.items.map((c) => [caseLink(c.id), targetLink(c.address), c.customer || "—", badge(c.state),
        badge(c.finding), c.blocked ? "yes" : "no", when(c.opened_at), ago(c.updated_at)])),
    nav);
}

async function casePage(id) {
  const doc = await api("GET", `/v1/cases/${encodeURIComponent(id)}`);
  const c = doc.case;
  const probe = c.probe_id ? await api("GET", `/v1/probes/${c.probe_id}`).catch(() => null) : null;
  const pending = doc.commands.some((x) => !x.applied_at);
  page(`Case #${c.id}`,
    h("dl", { class: "facts", id: "case-facts" },
      h("dt", {}, "Address"), h("dd", {}, targetLink(c.address)),
      h("dt", {}, "Customer"), h("dd", {}, c.customer ? link(`#/targets?q=${encodeURIComponent(c.customer)}`, c.customer) : "—"),
      h("dt", {}, "State"), h("dd", { id: "case-state" }, badge(c.state)),
      h("dt", {}, "Blocked"), h("dd", { id: "case-blocked" }, c.blocked ? `yes, since ${when(c.blocked_at)}` : "no"),
      h("dt", {}, "Finding"), h("dd", {}, badge(c.finding), c.trick ? ` by ${c.trick}` : ""),
      h("dt", {}, "Opened"), h("dd", {}, when(c.opened_at)),
      c.resolved_at ? [h("dt", {}, "Resolved"), h("dd", {}, when(c.resolved_at))] : null,
      c.next_timer_at ? [h("dt", {}, "Next step"), h("dd", {}, when(c.next_timer_at))] : null),
    may("operator") ? caseActions(c) : null,
    pending ? h("p", { class: "pending" }, "An action is waiting for the workflow…") : null,
    h("section", {}, h("h2", {}, "Evidence"),
      probe ? evidence(probe) : h("p", {}, "No probe is attached to this case (a complaint opened it).")),
    h("section", {}, h("h2", {}, "Timeline"),
      table(["When", "Event", "From", "To", "Actor", "Detail"],
        doc.events.map((e) => [when(e.at), e.event, e.from_state || "—", e.to_state || "—",
          h("span", { class: "actor" }, e.actor), detailText(e.detail)]))),
    h("section", {}, h("h2", {}, "Mails to the customer"),
      doc.mails && doc.mails.length ? doc.mails.map(mailView) : h("p", {}, "No mail yet.")),
    h("section", {}, h("h2", {}, "Enforcer actions"),
      table(["Executor", "Action", "State", "Attempts", "Last error", "Queued", "Done"],
        doc.actions.map((a) => [a.executor, a.action, badge(a.state), String(a.attempts), a.last_error || "",
          when(a.created_at), when(a.done_at)]))),
    h("section", {}, h("h2", {}, "Operator actions"),
      table(["When", "Action", "Actor", "Note", "Result"],
        doc.commands.map((x) => [when(x.created_at), x.action, x.actor, x.note || "",
          x.applied_at ? (x.result || "applied") : "queued"]))));
  refreshEvery(pending ? 1500 : 5000, () => casePage(id));
}

// An event's detail as "key: value" pairs, short enough for a table cell.
function detailText(d) {
  if (!d || typeof d !== "object") return d ? String(d) : "";
  return h("span", { class: "detail" }, Object.entries(d).map(([k, v]) =>
    `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join(", "));
}

function caseActions(c) {
  const closed = c.state === "resolved" || c.state === "closed";
  const post = (action) => (note) => api("POST", `/v1/cases/${c.id}/actions`, note ? { action, note } : { action });
  const btn = (label, q, fn, wantNote) =>
    h("button", { type: "button", class: "action", onclick: () => act(label, q, fn, wantNote) }, label);
  return h("div", { class: "actions", role: "group", "aria-label": "Operator actions" },
    !closed ? btn("Re-test now", `Probe ${c.address} again now? A clean result resolves the case and lifts the block.`,
      async () => {
        const rq = await api("POST", `/v1/targets/${encodeURIComponent(c.address)}/retest`);
        followRetest(rq.id);
        return { status: `re-test ${rq.id} ${rq.status || "requested"}` };
      }) : null,
    !c.blocked && !closed ? btn("Block", `Block ${c.address} now?`, post("block")) : null,
    ["open", "notified", "blocked"].includes(c.state)
      ? btn("Escalate", `Escalate case #${c.id} now${c.blocked ? "" : " (this also blocks it)"}?`, post("escalate")) : null,
    c.blocked ? btn("Unblock", `Lift the block on ${c.address}?`, post("unblock")) : null,
    c.state !== "closed" ? btn("Close", `Close case #${c.id}${c.blocked ? " and lift its block" : ""}?`, post("close")) : null,
    closed ? btn("Reopen", `Reopen case #${c.id}?`, post("reopen")) : null,
    btn("Add note", `A note for case #${c.id}:`, post("note"), true));
}

// Follows a re-test request until it is done and says how it came out.
function followRetest(rid) {
  const started = Date.now();
  const tick = async () => {
    const r = await api("GET", `/v1/retests/${rid}`);
    if (r.status === "done") {
      const v = r.probes && r.probes[0] ? r.probes[0].verdict : "no probe";
      say(`Re-test ${rid} done: ${v}`);
      route();
    } else if (Date.now() - started < 120000) {
      say(`Re-test ${rid}: ${r.status}…`);
      setTimeout(() => tick().catch((e) => say(e.message, true)), 1000);
    }
  };
  tick().catch((e) => say(e.message, true));
}

// One probe's evidence: verdict, banner, the transcript with the exchange that
// proved the verdict highlighted, the sink's receipts and TLS facts if any.
function evidence(doc) {
  const p = doc.probe;
  const ev = doc.evidence || {};
  const attempts = doc.attempts || [];
  // Only a receipt its attempt could have caused proves anything; anomalies are listed apart.
  const received = new Set((doc.receipts || []).filter((r) => !r.anomaly).map((r) => r.attempt));
  const proving = attempts.find((a) => received.has(a.idx)) ||
    attempts.find((a) => p.trick && `${a.sender}/${a.form}` === p.trick) ||
    attempts.find((a) => a.outcome === "accepted");
  const tls = ev.tls || doc.tls;
  return h("div", { class: "evidence" },
    h("p", {}, link(`#/probe/${p.id}`, `Probe ${p.id}`), ` of ${p.address}:${p.port} `, badge(p.verdict),
      p.trick ? [" trick ", h("code", {}, p.trick)] : "", ` at ${when(p.finished_at)} on ${p.node || "?"}`,
      p.duration_ms !== null ? ` (${p.duration_ms} ms)` : ""),
    doc.banner ? h("p", {}, "Banner: ", h("code", {}, doc.banner)) : null,
    tls ? h("section", {}, h("h3", {}, "TLS"), h("dl", { class: "facts tls" },
      Object.entries(tls).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))])))
      : null,
    h("h3", {}, "Transcript"),
    transcript(ev.transcript || "", proving),
    ev.transcript_truncated ? h("p", { class: "hint" }, "The transcript was cut at its size bound.") : null,
    h("h3", {}, "Attempts"),
    table(["#", "Trick", "MAIL FROM", "RCPT TO", "Replies (MAIL/RCPT/DATA/end)", "Outcome"],
      attempts.map((a) => [String(a.idx), `${a.sender}/${a.form}`, a.mail_from || "", a.rcpt_to || "",
        [a.mail_code, a.rcpt_code, a.data_code, a.eod_code].map((x) => x || "—").join(" / "),
        proving && a.idx === proving.idx ? h("strong", {}, a.outcome || "") : a.outcome || ""])),
    h("h3", {}, "Sink receipts"),
    table(["Received", "From", "Attempt", "Bounce", "Token in", "Via the target", "Result"],
      (doc.receipts || []).map((r) => [when(r.received_at), r.peer, String(r.attempt), r.is_bounce ? "yes" : "no",
        r.token_where || "",
        // The probed address in the Received: chain: evidence, not a condition (smarthosts).
        r.via_target === true ? "yes" : r.via_target === false ? "no" : "—",
        r.anomaly ? h("strong", {}, `anomaly: ${r.anomaly}`) : r.applied ? "applied"
          : r.orphan_at ? `waiting for its probe row since ${when(r.orphan_at)}` : "waiting"])),
    (doc.anomalies || []).length ? [
      h("h3", {}, "Anomalies"),
      h("p", { class: "hint" }, "Receipts their attempt could not have caused (replayed, late, refused after DATA): they changed nothing."),
      table(["Received", "From", "Attempt", "Reason", "Via the target"],
        doc.anomalies.map((a) => [when(a.received_at), a.peer, String(a.attempt), a.reason,
          a.via_target === true ? "yes" : a.via_target === false ? "no" : "—"]))] : null);
}

// The transcript as lines, with the exchange that proved the verdict marked:
// the proving attempt's MAIL FROM, its RCPT TO, their replies (paired in order,
// as a pipelining client sends them), and DATA through the end-of-data reply.
function transcript(text, proving) {
  const lines = text.split("\n");
  const starts = [];
  lines.forEach((l, i) => { if (/^C: MAIL FROM:/i.test(l)) starts.push(i); });
  const blocks = starts.map((st, k) => {
    let end = k + 1 < starts.length ? starts[k + 1] - 1 : lines.length - 1;
    for (let i = st + 1; i <= end; i++) {
      if (/^C: (RSET|QUIT)/i.test(lines[i])) { end = i - 1; break; }
    }
    return [st, end];
  });
  const marks = new Set();
  // Its RCPT may also stand in an earlier transaction that got no DATA (a greylisting
  // retry, or a pipelined group sent before any recipient was accepted): the one
  // that carried the message proves it.
  const named = proving && proving.rcpt_to ?
    blocks.filter(([st, end]) => lines.slice(st, end + 1).some((l) => /^C: RCPT TO:/i.test(l) && l.includes(proving.rcpt_to))) : [];
  const block = named.find(([st, end]) => lines.slice(st, end + 1).some((l) => /^C: DATA/i.test(l))) || named[0];
  if (block) {
    const [st, end] = block;
    const cmds = [];
    const replies = [];
    let data = -1;
    // A pipelined RSET before this MAIL FROM is answered inside the block.
    let skip = st > 0 && /^C: RSET/i.test(lines[st - 1]) ? 1 : 0;
    for (let i = st; i <= end; i++) {
      if (lines[i].startsWith("C: ")) {
        if (data < 0) cmds.push(i);
        if (data < 0 && /^C: DATA/i.test(lines[i])) data = i;
      } else if (/^S: \d{3}( |$)/.test(lines[i]) && (data < 0 || replies.length < cmds.length)) {
        if (skip > 0) skip--;
        else replies.push(i);
      }
    }
    cmds.forEach((ci, k) => {
      if (k === 0 || (/^C: RCPT TO:/i.test(lines[ci]) && lines[ci].includes(proving.rcpt_to))) {
        marks.add(ci);
        if (replies[k] !== undefined) marks.add(replies[k]);
      }
    });
    // DATA, its 354, and what follows it up to the end-of-data reply.
    const after = data >= 0 ? replies[cmds.indexOf(data)] : undefined;
    if (data >= 0) marks.add(data);
    if (after !== undefined) for (let i = after; i <= end; i++) marks.add(i);
  }
  return h("pre", { class: "transcript", tabindex: 0, "aria-label": "SMTP transcript; the proving exchange is marked" },
    lines.map((l, i) => h(marks.has(i) ? "mark" : "span", { class: l.startsWith("C:") ? "c" : "s" }, `${l}\n`)));
}

function mailView(m) {
  const mail = parseMail(m.message || "");
  return h("article", { class: "mail" },
    h("header", {},
      h("div", {}, h("b", {}, "Subject: "), mail.subject || m.subject),
      h("div", {}, h("b", {}, "From: "), mail.headers.from || ""),
      h("div", {}, h("b", {}, "To: "), m.to),
      h("div", {}, h("b", {}, "Date: "), mail.headers.date || when(m.created_at)),
      h("div", { class: "meta" }, `${m.kind} (${m.locale}), `, badge(m.state),
        m.sent_at ? ` sent ${when(m.sent_at)}` : "", m.last_error ? ` — ${m.last_error}` : "")),
    h("pre", { class: "mailbody" }, mail.body));
}

async function probePage(id) {
  const doc = await api("GET", `/v1/probes/${encodeURIComponent(id)}`);
  page(`Probe ${id}`, evidence(doc));
}

// ---- customers and targets ---------------------------------------------

async function targetsPage(params) {
  const q = (params.get("q") || "").trim();
  const input = h("input", { id: "t-q", name: "q", type: "search", value: q, size: 36,
    placeholder: "address, CIDR, customer name or id" });
  const form = h("form", { class: "filters", role: "search" }, h("label", { for: "t-q" }, "Find "), input,
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/targets${qs({ q: input.value.trim() })}`;
  });
  const out = [];
  if (!q) {
    const list = await api("GET", "/v1/targets?limit=50");
    out.push(targetTable(list.items, "Targets"));
  } else if (/^[0-9a-f:.]+$/i.test(q) && (q.includes(".") || q.includes(":")) && !q.includes("/")) {
    location.hash = `#/target/${encodeURIComponent(q)}`;
    return;
  } else if (/^[0-9a-f:.]+\/\d+$/i.test(q)) {
    const list = await api("GET", `/v1/targets${qs({ cidr: q, limit: 200 })}`);
    out.push(targetTable(list.items, `Targets in ${q}`));
  } else {
    const customers = await api("GET", `/v1/customers${qs({ q, limit: 50 })}`);
    out.push(table(["Customer id", "Name", "Contact", "Locale", "Mail domains"],
      customers.items.map((c) => [link(`#/customer/${encodeURIComponent(c.ext_id)}`, c.ext_id), c.name,
        c.contact_email, c.locale, (c.domains || []).join(", ")]), "Customers"));
  }
  page("Customers & targets", form, ...out);
}

function targetTable(items, caption) {
  return table(["Address", "Customer", "Last verdict", "Probed", "Next probe", "Case"],
    items.map((t) => [targetLink(t.address), t.customer || "—", badge(t.last_verdict || "untested"),
      ago(t.last_probed_at), when(t.next_probe_at), t.case ? [caseLink(t.case.id), " ", badge(t.case.state)] : "—"]),
    caption);
}

async function customerPage(ext) {
  const [c, targets, cases] = await Promise.all([
    api("GET", `/v1/customers/${encodeURIComponent(ext)}`),
    api("GET", `/v1/targets${qs({ customer: ext, limit: 200 })}`),
    api("GET", `/v1/cases${qs({ customer: ext, limit: 25 })}`),
  ]);
  const cust = c.customer;
  const domains = cust.domains || [];
  page(`Customer ${cust.ext_id}`,
    h("dl", { class: "facts" }, h("dt", {}, "Name"), h("dd", {}, cust.name),
      h("dt", {}, "Contact"), h("dd", {}, cust.contact_email), h("dt", {}, "Locale"), h("dd", {}, cust.locale),
      h("dt", {}, "Mail domains"), h("dd", { id: "customer-domains" },
        domains.length ? domains.join(", ") : "none on record")),
    may("operator") ? domainsForm(cust) : null,
    targetTable(targets.items, `Targets (${c.target_count})`),
    table(["Case", "Address", "State", "Finding", "Opened"],
      cases.items.map((k) => [caseLink(k.id), k.address, badge(k.state), badge(k.finding), when(k.opened_at)]), "Cases"));
}

// The customer's mail domains on record: probes of every target of the
// customer forge senders from them and test backscatter to them. The API
// checks and normalises them; a refusal says which one and why.
function domainsForm(cust) {
  const input = h("input", { id: "c-domains", name: "domains", size: 60, value: (cust.domains || []).join(" "),
    placeholder: "example.com mail.example.com" });
  const form = h("form", { class: "filters", "aria-label": "Mail domains on record" },
    h("label", { for: "c-domains" }, "Edit mail domains "), input, h("button", { type: "submit" }, "Save domains"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const list = input.value.split(/[\s,;]+/).filter((d) => d);
    try {
      const res = await api("PATCH", `/v1/customers/${encodeURIComponent(cust.ext_id)}`, { domains: list });
      say(`Mail domains saved: ${res.domains.length ? res.domains.join(", ") : "none"}`);
      route();
    } catch (e) {
      say(`Mail domains refused: ${e.message}`, true);
    }
  });
  return form;
}

async function targetPage(addr) {
  const [t, probes] = await Promise.all([
    api("GET", `/v1/targets/${encodeURIComponent(addr)}`),
    api("GET", `/v1/probes${qs({ target: addr, limit: 50 })}`),
  ]);
  const tg = t.target || t;
  page(`Target ${tg.address}`,
    h("dl", { class: "facts" },
      h("dt", {}, "Customer"), h("dd", {}, tg.customer ? link(`#/customer/${encodeURIComponent(tg.customer)}`, tg.customer) : "—"),
      h("dt", {}, "Ports"), h("dd", {}, (tg.ports || []).join(", ")),
      h("dt", {}, "Last verdict"), h("dd", {}, badge(tg.last_verdict || "untested")),
      h("dt", {}, "Next probe"), h("dd", {}, when(tg.next_probe_at)),
      h("dt", {}, "Case"), h("dd", {}, tg.case ? [caseLink(tg.case.id), " ", badge(tg.case.state)] : "none open")),
    may("operator") ? h("div", { class: "actions" }, h("button", { type: "button", class: "action",
      onclick: () => act("Re-test", `Probe ${tg.address} again now?`, async () => {
        const rq = await api("POST", `/v1/targets/${encodeURIComponent(tg.address)}/retest`);
        followRetest(rq.id);
        return { status: `re-test ${rq.id} requested` };
      }) }, "Re-test now")) : null,
    table(["Probe", "Finished", "Port", "Verdict", "Trick", "Backscatter", "Node"],
      probes.items.map((p) => [link(`#/probe/${p.id}`, String(p.id)), when(p.finished_at), String(p.port),
        badge(p.verdict || "running"), p.trick || "", p.backscatter || "", p.node || ""]), "Probe history"));
}

// ---- sweeps --------------------------------------------------------------

async function sweepsPage() {
  const list = await api("GET", "/v1/sweeps?limit=25");
  let form = null;
  if (may("operator")) {
    const scope = h("select", { name: "scope", id: "s-scope" },
      ["all", "cidr", "customer"].map((s) => h("option", { value: s }, s)));
    const arg = h("input", { name: "arg", id: "s-arg", size: 24, placeholder: "CIDR or customer id" });
    form = h("form", { class: "filters", "aria-label": "Start a sweep" },
      h("label", {}, "Scope ", scope), h("label", {}, "Range / customer ", arg),
      h("button", { type: "submit" }, "Start sweep"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = { scope: scope.value };
      if (scope.value === "cidr") body.cidr = arg.value.trim();
      if (scope.value === "customer") body.customer = arg.value.trim();
      act("Sweep", `Probe ${scope.value === "all" ? "every target" : `the targets of ${arg.value.trim()}`} soon?`,
        async () => {
          const s = await api("POST", "/v1/sweeps", body);
          location.hash = `#/sweep/${s.id}`;
          return { status: `sweep ${s.id} started, ${s.total} targets` };
        });
    });
  }
  page("Sweeps", form,
    table(["Sweep", "Scope", "Started", "By", "Progress", "Finished"],
      list.items.map((s) => [link(`#/sweep/${s.id}`, String(s.id)),
        `${s.scope}${s.cidr ? ` ${s.cidr}` : ""}${s.customer ? ` ${s.customer}` : ""}`, when(s.created_at), s.created_by,
        `${s.done} / ${s.total}`, s.finished ? when(s.finished_at) : "running"])));
  refreshEvery(5000, sweepsPage);
}

async function sweepPage(id) {
  const s = await api("GET", `/v1/sweeps/${encodeURIComponent(id)}`);
  page(`Sweep ${s.id}`,
    sweepProgress(s),
    h("dl", { class: "facts" }, h("dt", {}, "Started"), h("dd", {}, `${when(s.created_at)} by ${s.created_by}`),
      h("dt", {}, "Finished"), h("dd", { id: "sweep-finished" }, s.finished ? when(s.finished_at) : "not yet")),
    h("h2", {}, s.finished ? "Summary of verdicts" : "Verdicts so far"), verdictTable(s.verdicts));
  if (!s.finished) refreshEvery(2000, () => sweepPage(id));
  else clearInterval(refreshTimer);
}

// ---- blocklist -----------------------------------------------------------

async function blocklistPage() {
  const list = await api("GET", "/v1/blocklist?format=json");
  const exp = (fmt, name, type) => h("button", { type: "button", onclick: async () => {
    try { download(name, type, await api("GET", `/v1/blocklist?format=${fmt}`, undefined, type)); }
    catch (e) { say(e.message, true); }
  } }, `Export ${fmt}`);
  page("Blocklist",
    h("div", { class: "actions" }, exp("plain", "blocklist.txt", "text/plain"),
      exp("rbldnsd", "blocklist.rbldnsd", "text/plain"), exp("csv", "blocklist.csv", "text/csv")),
    table(["Address", "Blocked since", "Why", "Case"],
      list.items.map((b) => [targetLink(b.address), when(b.blocked_at), badge(b.why), caseLink(b.case_id)]),
      `${list.count} blocked`));
}

// ---- router --------------------------------------------------------------

const routes = [
  [/^#\/overview$/, overview],
  [/^#\/cases$/, (m, p) => casesList(p)],
  [/^#\/case\/(\d+)$/, (m) => casePage(m[1])],
  [/^#\/probe\/(\d+)$/, (m) => probePage(m[1])],
  [/^#\/targets$/, (m, p) => targetsPage(p)],
  [/^#\/target\/([^/]+)$/, (m) => targetPage(decodeURIComponent(m[1]))],
  [/^#\/customer\/([^/]+)$/, (m) => customerPage(decodeURIComponent(m[1]))],
  [/^#\/sweeps$/, sweepsPage],
  [/^#\/sweep\/(\d+)$/, (m) => sweepPage(m[1])],
  [/^#\/blocklist$/, blocklistPage],
];

async function route() {
  clearInterval(refreshTimer);
  if (!session.token || location.hash === "#/signin") { signIn(); return; }
  if (session.who === null) {
    try { await whoami(); } catch (e) { session.token = null; signIn(); return; }
  }
  const [path, query] = (location.hash || "#/overview").split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("#nav a")) {
    a.toggleAttribute("aria-current", path.startsWith(a.getAttribute("href")));
  }
  const r = routes.find(([re]) => re.test(path));
  if (!r) { location.hash = "#/overview"; return; }
  try {
    await r[1](path.match(r[0]), params);
    main.dataset.page = path.split("/")[1];
  } catch (e) {
    if (e.status === 401) { session.token = null; session.who = null; signIn(); return; }
    page("Error", h("p", { class: "error", role: "alert" }, e.message));
  }
}

// "/" jumps to the page's search box, as on most sites.
document.addEventListener("keydown", (ev) => {
  if (ev.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
    const box = document.querySelector("main input[type=search]");
    if (box) { ev.preventDefault(); box.focus(); }
  }
});
window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });
route();
