// The dashboard's plumbing: the API client (bearer token from the tab's
// session storage, never in a URL), DOM building without innerHTML (every
// string from the API is text), and small formatters.

const TOKEN_KEY = "relayaudit.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(t) {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  who: null, // {name, role} from /v1/whoami
};

const RANK = { viewer: 1, operator: 2, admin: 3 };
export function may(role) {
  return session.who !== null && RANK[session.who.role] >= RANK[role];
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${message} (${status} ${code})`);
    this.status = status;
    this.code = code;
  }
}

// One request to the JSON API; throws ApiError with the API's own message.
export async function api(method, path, body, accept) {
  const headers = { Accept: accept || "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const type = resp.headers.get("Content-Type") || "";
  if (!type.startsWith("application/json")) {
    if (!resp.ok) throw new ApiError(resp.status, "http", resp.statusText);
    return resp.text();
  }
  const doc = await resp.json();
  if (!resp.ok) {
    const e = doc.error || {};
    throw new ApiError(resp.status, e.code || "error", e.message || resp.statusText);
  }
  return doc;
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") u.set(k, v);
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}

// h("a", {href: "#/x", class: "y"}, "text", child...): an element; strings become text nodes.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function table(headers, rows, caption) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
      : h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, "nothing"))));
}

export function when(t) {
  if (!t) return "—";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

export function ago(t) {
  if (!t) return "never";
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  return `${duration(Math.abs(s))} ${s >= 0 ? "ago" : "from now"}`;
}

export function duration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "—";
  s = Math.round(s);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text || ""}` }, text || "—");
}

// The mail as the customer's client shows it: the headers people read and the
// quoted-printable UTF-8 body decoded.
export function parseMail(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const cut = text.indexOf("\n\n");
  const head = cut < 0 ? text : text.slice(0, cut);
  let body = cut < 0 ? "" : text.slice(cut + 2);
  const headers = {};
  for (const line of head.replace(/\n[ \t]+/g, " ").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  if ((headers["content-transfer-encoding"] || "").toLowerCase() === "quoted-printable") {
    body = decodeQP(body);
  }
  return { headers, body, subject: decodeWords(headers.subject || "") };
}

function decodeQP(s) {
  const joined = s.replace(/=\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i];
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of new TextEncoder().encode(c)) bytes.push(b);
    }
  }
  return new TextDecoder("utf-8").decode(new Uint8Array(bytes));
}

// RFC 2047 encoded words (=?UTF-8?Q?...?= and =?UTF-8?B?...?=) in a subject.
function decodeWords(s) {
  return s.replace(/=\?utf-8\?([qb])\?([^?]*)\?=\s*/gi, (_, enc, data) => {
    if (enc.toLowerCase() === "b") {
      const bin = atob(data);
      return new TextDecoder("utf-8").decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
    }
    return decodeQP(data.replace(/_/g, " "));
  });
}

// Lets the browser save text the API answered (the export needs the token, so no plain link).
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
