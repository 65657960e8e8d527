// <security-logs>: the "Settings -> Security Logs" page as a standard Custom Element.
//
// One module, no framework, no build step. Its styles are security-logs.css, found next to this
// file; its "Streams" part is security-logs-streams.js. It talks only to the public API (GET
// /v1/logs, the export and stream routes, GET /v1/integrity/checkpoint) with the dashboard's token, which it asks for before every request
// and never stores. Everything an entry holds is rendered as text (textContent, attributes set
// through the DOM), never parsed as HTML.
//
//   <script type="module" src="https://static.example.com/security-logs/security-logs.js"></script>
//   <security-logs api-base="https://api.example.com"></security-logs>
//   document.querySelector("security-logs").getToken = async () => session.accessToken();
//
// Attributes: `api-base` (the API's origin and base path; default: this page's origin; only
// `https:`, or `http:` to this computer, as `make dev` serves: anything else is refused and
// no request is sent, since the token would travel in clear),
// `page-size` (entries per page, 1-100, default 50). Properties: `getToken` (a function that
// returns the bearer token, or a promise of it) or `token` (a string). Events (bubbling,
// composed): `security-logs:unauthorized` when the API refuses the token (401), so the host can
// sign the user in again.

import { StreamsPanel } from "./security-logs-streams.js";

const STYLES_URL = new URL("./security-logs.css", import.meta.url);

// The catalogue of docs/api.md, "Event types", in the order the filter shows them.
const EVENT_TYPES = [
  ["login", "Login"],
  ["login.failed", "Failed Login"],
  ["password.changed", "Password Changed"],
  ["api_key.viewed", "API Key Viewed"],
  ["api_key.regenerated", "API Key Regenerated"],
  ["account_settings.changed", "Account Settings Changed"],
  ["payout_account.updated", "Payout Account Updated"],
  ["kyc_document.changed", "KYC/KYB Document Changed"],
  ["security_logs.exported", "Security Logs Exported"],
  ["security_logs.stream_created", "Security Log Stream Created"],
  ["security_logs.stream_deleted", "Security Log Stream Deleted"],
  ["security_logs.stream_replayed", "Security Log Stream Replayed"],
];

const UNFAMILIAR_REASONS = {
  new_device: "new device",
  new_network: "new network",
  new_country: "new country",
};

const COLUMNS = ["Timestamp", "Event", "User", "Device / IP", "Details"];
const DEFAULT_PAGE_SIZE = 50;
// Polling an export: quick at first (a small export is done in seconds), then at most every 5 s.
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5000;
// A presigned link lives 15 minutes; one older than this is minted again before use.
const LINK_FRESH_MS = 10 * 60 * 1000;

/** An answer of the API that is not a success, with what a person needs to know about it. */
class ApiFailure extends Error {
  constructor(status, problem, retryAfterSeconds) {
    super(problem?.detail || problem?.title || problem?.message || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An `api-base` this element will not send a token to (see `safeUrl`). */
class RefusedApiBase extends Error {
  constructor() {
    super(
      "The API address (api-base) was refused: it must be an https:// address (or http:// to this " +
        "computer while developing), so no request was sent.",
    );
    this.status = null;
  }
}

/**
 * The one rule for every URL this element requests or lets a person follow (the API base, the
 * export's download and evidence links): an absolute `https:` URL, or `http:` to a loopback
 * host (127.0.0.0/8, localhost, [::1]) as `make dev` serves it. Anything else (`javascript:`,
 * `data:`, `file:`, `http:` to any other host, a relative or unparseable text, a non-string)
 * gives null and must be neither requested, clicked nor put in an `href`. Returns the parsed URL.
 */
function safeUrl(text) {
  if (typeof text !== "string") return null;
  let url;
  try {
    url = new URL(text); // no base: a relative URL throws
  } catch {
    return null;
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return url;
  return null;
}

/** A loopback host name as `URL` spells it (IPv4 already normalized: `127.1` is `127.0.0.1`). */
function isLoopback(hostname) {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** `tag.class` with text, through DOM APIs only. */
function el(tag, { cls, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
function retryAfterSeconds(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

/** The start (or, with `endOfDay`, the last millisecond) of a `YYYY-MM-DD` day in the browser's zone. */
function dayBound(value, endOfDay) {
  const [year, month, day] = value.split("-").map(Number);
  if (!year || !month || !day) return null;
  const start = new Date(year, month - 1, day + (endOfDay ? 1 : 0));
  return new Date(start.getTime() - (endOfDay ? 1 : 0)).toISOString();
}

let nextId = 0;

export class SecurityLogs extends HTMLElement {
  static observedAttributes = ["api-base", "page-size"];

  #token = null;
  #getToken = null;
  #generation = 0; // each (re)load of the list; answers to older ones are dropped
  #cursor = null;
  #count = 0;
  #exportPoll = null;
  #scheduled = false;
  #ui = null;
  #streams = null;
  #zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  #timeFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: this.#zone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  });

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
  }

  /** The bearer token, as a string. Held in memory only. */
  get token() {
    return this.#token;
  }
  set token(value) {
    this.#token = value || null;
    this.#scheduleReload();
  }

  /** A function returning the bearer token (or a promise of it), called before each request. */
  get getToken() {
    return this.#getToken;
  }
  set getToken(fn) {
    this.#getToken = typeof fn === "function" ? fn : null;
    this.#scheduleReload();
  }

  /** The time zone the timestamps are shown in and sent as `tz`: the browser's own. */
  get timeZone() {
    return this.#zone;
  }

  connectedCallback() {
    // Properties set before this element was upgraded shadow the accessors: re-set them.
    for (const name of ["token", "getToken"]) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = this[name];
        delete this[name];
        this[name] = value;
      }
    }
    if (!this.#ui) this.#render();
    this.#scheduleReload();
  }

  disconnectedCallback() {
    this.#generation++;
    this.#stopExportPoll();
  }

  attributeChangedCallback() {
    this.#scheduleReload();
  }

  /** Loads the first page again with the current filters and token (call it when the signed-in
   * user changes: an export being followed is dropped, it may belong to the previous user). */
  reload() {
    this.#stopExportPoll();
    if (this.#ui) {
      this.#ui.exportButton.disabled = false;
      this.#ui.exportStatus.replaceChildren();
      delete this.#ui.exportStatus.dataset.state;
      this.#ui.exportLinks.replaceChildren();
    }
    this.#scheduleReload();
  }

  /** The API's origin and base path without a trailing `/`, or null when `safeUrl` refuses it. */
  get #apiBase() {
    const url = safeUrl(this.getAttribute("api-base") || window.location.origin);
    if (!url) return null;
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  }

  get #pageSize() {
    const size = Number.parseInt(this.getAttribute("page-size") || "", 10);
    return Number.isInteger(size) && size >= 1 && size <= 100 ? size : DEFAULT_PAGE_SIZE;
  }

  // Several changes in one task (attributes, token, connection) make one request.
  #scheduleReload() {
    if (this.#scheduled || !this.isConnected) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (this.isConnected && this.#ui) this.#loadPage(false);
    });
  }

  async #currentToken() {
    if (this.#getToken) return (await this.#getToken()) || null;
    return this.#token;
  }

  /** A request to the API; resolves to the parsed body, or rejects with an ApiFailure. */
  async #request(method, path, body) {
    const base = this.#apiBase;
    if (base === null) throw new RefusedApiBase(); // before the token is even asked for
    const token = await this.#currentToken();
    if (!token) throw new ApiFailure(401, { detail: "no token" }, null);
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiFailure(0, null, null); // offline, DNS, CORS refused
    }
    const type = response.headers.get("content-type") || "";
    const parsed = type.includes("json") ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) {
      if (response.status === 401) {
        this.dispatchEvent(new CustomEvent("security-logs:unauthorized", { bubbles: true, composed: true }));
      }
      throw new ApiFailure(
        response.status,
        typeof parsed === "object" ? parsed : null,
        retryAfterSeconds(response.headers.get("retry-after")),
      );
    }
    return parsed;
  }

  // ---- filters ---------------------------------------------------------------------------

  /** The filters as the form holds them, in the API's terms. */
  #filters() {
    const form = this.#ui.form;
    const types = [...form.querySelectorAll("input[name=type]:checked")].map((box) => box.value);
    const actor = form.elements.actor.value.trim();
    const from = form.elements.from.value ? dayBound(form.elements.from.value, false) : null;
    const to = form.elements.to.value ? dayBound(form.elements.to.value, true) : null;
    const unfamiliar = form.elements.unfamiliar.checked;
    return { types, actor, from, to, unfamiliar };
  }

  #listQuery(filters, cursor) {
    const query = new URLSearchParams();
    for (const type of filters.types) query.append("type", type);
    if (filters.actor) query.set("actor", filters.actor);
    if (filters.from) query.set("from", filters.from);
    if (filters.to) query.set("to", filters.to);
    if (filters.unfamiliar) query.set("unfamiliar", "true");
    query.set("tz", this.#zone);
    query.set("limit", String(this.#pageSize));
    if (cursor) query.set("cursor", cursor);
    return `/v1/logs?${query}`;
  }

  #exportBody(filters) {
    const body = { tz: this.#zone };
    if (filters.types.length) body.types = filters.types;
    if (filters.actor) body.actor = filters.actor;
    if (filters.from) body.from = filters.from;
    if (filters.to) body.to = filters.to;
    if (filters.unfamiliar) body.unfamiliar = true;
    return body;
  }

  #describeFilters(filters) {
    const parts = [];
    if (filters.types.length) {
      const labels = new Map(EVENT_TYPES);
      parts.push(filters.types.map((type) => labels.get(type) || type).join(", "));
    }
    if (filters.actor) parts.push(`user ${filters.actor}`);
    if (filters.from || filters.to) parts.push("the chosen dates");
    if (filters.unfamiliar) parts.push("unfamiliar sign-ins");
    return parts.length ? ` (${parts.join("; ")})` : "";
  }

  // ---- the list --------------------------------------------------------------------------

  async #loadPage(more) {
    const ui = this.#ui;
    const generation = more ? this.#generation : ++this.#generation;
    const filters = this.#filters();
    if (!more) {
      this.#cursor = null;
      this.#count = 0;
      ui.body.replaceChildren();
      ui.table.hidden = true;
      ui.empty.hidden = true;
    }
    ui.loadMore.hidden = true;
    ui.retry.hidden = true;
    if (!this.#getToken && !this.#token) {
      this.#setState("signed-out");
      this.#say(ui.status, "Sign in to see the security logs.");
      return;
    }
    ui.list.setAttribute("aria-busy", "true");
    this.#setState(more ? "loading-more" : "loading");
    this.#say(ui.status, more ? "Loading more entries…" : "Loading security logs…");
    try {
      const page = await this.#request("GET", this.#listQuery(filters, more ? this.#cursor : null));
      if (generation !== this.#generation) return;
      const entries = Array.isArray(page?.data) ? page.data : [];
      ui.body.append(...entries.map((entry) => this.#row(entry)));
      this.#count += entries.length;
      this.#cursor = page?.next_cursor || null;
      ui.table.hidden = this.#count === 0;
      ui.empty.hidden = this.#count !== 0;
      ui.loadMore.hidden = !this.#cursor;
      this.#setState(this.#count === 0 ? "empty" : "ready");
      const shown = `${this.#count} ${this.#count === 1 ? "entry" : "entries"}`;
      this.#say(
        ui.status,
        this.#count === 0
          ? `No entries${this.#describeFilters(filters)}.`
          : `Showing ${shown}${this.#describeFilters(filters)}, newest first${this.#cursor ? "; more are available" : ""}.`,
      );
      if (!more) {
        this.#loadCheckpoint(generation);
        this.#streams?.load();
      }
    } catch (failure) {
      if (generation !== this.#generation) return;
      this.#setState("error");
      this.#showFailure(ui.status, failure, "The security logs could not be loaded", true);
      ui.retry.hidden = !this.#retryable(failure);
      ui.retry.onclick = () => this.#loadPage(more);
      ui.loadMore.hidden = !more || !this.#cursor;
    } finally {
      if (generation === this.#generation) ui.list.removeAttribute("aria-busy");
    }
  }

  #row(entry) {
    // One wrapper per cell: at phone width the cell is a grid of its label and this.
    const cell = (column, children) =>
      el("td", { attrs: { "data-label": COLUMNS[column], role: "cell" } }, [el("div", { cls: "value" }, children)]);
    const occurred = new Date(entry.occurred_at);
    const time = el("time", {
      text: Number.isNaN(occurred.getTime()) ? entry.occurred_at : this.#timeFormat.format(occurred),
      attrs: { datetime: String(entry.occurred_at ?? "") },
    });

    const eventCell = [el("span", { cls: "event", text: entry.type_label || entry.type })];
    const reasons = entry.unfamiliar && Array.isArray(entry.unfamiliar.reasons) ? entry.unfamiliar.reasons : null;
    if (reasons) {
      const why = reasons.map((reason) => UNFAMILIAR_REASONS[reason] || String(reason)).join(", ");
      // The badge says "Unfamiliar"; the reasons are read out with it and shown on hover.
      eventCell.push(
        document.createTextNode(" "),
        el("span", { cls: "badge", text: "Unfamiliar", attrs: { title: `Unfamiliar sign-in: ${why}` } }, [
          el("span", { cls: "visually-hidden", text: ` sign-in: ${why}` }),
        ]),
      );
    }

    const actor = entry.actor || {};
    const userCell = [el("span", { cls: "primary", text: actor.name || actor.id || "—" })];
    if (actor.name && actor.id) userCell.push(el("span", { cls: "secondary", text: actor.id }));

    const location = entry.location
      ? [entry.location.city, entry.location.region, entry.location.country].filter(Boolean).join(", ")
      : "";
    const deviceCell = [
      el("span", { cls: "primary", text: entry.device || (entry.ip ? "Unknown device" : "—") }),
      entry.ip ? el("span", { cls: "secondary", text: entry.ip }) : null,
      location ? el("span", { cls: "secondary", text: location }) : null,
    ];

    const row = el("tr", { attrs: { "data-id": String(entry.id ?? ""), role: "row" } }, [
      cell(0, [time]),
      cell(1, eventCell),
      cell(2, userCell),
      cell(3, deviceCell),
      cell(4, [el("span", { text: entry.summary || "" })]),
    ]);
    if (reasons) row.classList.add("unfamiliar");
    return row;
  }

  /** The latest signed checkpoint's size, as a line under the list; quietly nothing if none. */
  async #loadCheckpoint(generation) {
    const ui = this.#ui;
    try {
      const note = await this.#request("GET", "/v1/integrity/checkpoint");
      if (generation !== this.#generation || typeof note !== "string") return;
      const size = Number.parseInt(note.split("\n")[1], 10);
      if (!Number.isInteger(size)) return;
      ui.integrity.textContent = `Tamper-evident: the last signed checkpoint of this account's log covers ${size} ${size === 1 ? "entry" : "entries"}.`;
      ui.integrity.hidden = false;
    } catch {
      ui.integrity.hidden = true; // an empty log has no checkpoint yet
    }
  }

  // ---- export ----------------------------------------------------------------------------

  async #startExport() {
    const ui = this.#ui;
    this.#stopExportPoll();
    ui.exportButton.disabled = true;
    ui.exportLinks.replaceChildren();
    ui.exportStatus.dataset.state = "requesting";
    this.#say(ui.exportStatus, "Requesting the export…");
    try {
      const created = await this.#request("POST", "/v1/exports", this.#exportBody(this.#filters()));
      this.#followExport(created);
    } catch (failure) {
      ui.exportButton.disabled = false;
      ui.exportStatus.dataset.state = "error";
      if (failure.status === 429) {
        const wait = failure.retryAfterSeconds;
        this.#say(
          ui.exportStatus,
          `Too many exports are in progress for this account. Try again ${wait ? `in ${wait} seconds` : "in a little while"}.`,
          "error",
        );
      } else {
        this.#showFailure(ui.exportStatus, failure, "The export could not be requested", false);
      }
    }
  }

  #followExport(job) {
    const ui = this.#ui;
    let delay = POLL_FIRST_MS;
    const show = (job) => {
      ui.exportStatus.dataset.state = job.status;
      if (job.status === "succeeded") {
        ui.exportButton.disabled = false;
        const rows = `${job.row_count} ${job.row_count === 1 ? "row" : "rows"}`;
        this.#say(ui.exportStatus, `Export ready: ${rows}. The download starts; if it does not, use the link.`);
        this.#showDownload(job, Date.now());
        return true;
      }
      if (job.status === "failed") {
        ui.exportButton.disabled = false;
        this.#say(ui.exportStatus, `The export failed: ${job.error || "no reason was given"}.`, "error");
        return true;
      }
      const progress = job.status === "running" ? "Export running…" : "Export pending: waiting to start…";
      this.#say(ui.exportStatus, progress);
      return false;
    };
    if (show(job)) return;
    const poll = async () => {
      try {
        const latest = await this.#request("GET", `/v1/exports/${encodeURIComponent(job.id)}`);
        if (!this.isConnected || this.#exportPoll === null) return;
        if (show(latest)) {
          this.#exportPoll = null;
          return;
        }
      } catch (failure) {
        if (!this.#retryable(failure)) {
          this.#exportPoll = null;
          ui.exportButton.disabled = false;
          ui.exportStatus.dataset.state = "error";
          this.#showFailure(ui.exportStatus, failure, "The export's progress could not be read", false);
          return;
        }
      }
      delay = Math.min(delay * 2, POLL_MAX_MS);
      this.#exportPoll = setTimeout(poll, delay);
    };
    this.#exportPoll = setTimeout(poll, delay);
  }

  #stopExportPoll() {
    if (this.#exportPoll !== null) clearTimeout(this.#exportPoll);
    this.#exportPoll = null;
  }

  #showDownload(job, mintedAt) {
    const ui = this.#ui;
    const download = safeUrl(job.download_url);
    if (!download) {
      this.#refuseLink(job.download_url, "download");
      return;
    }
    const link = el("a", {
      cls: "download",
      text: "Download CSV",
      attrs: { href: download.href, download: "", rel: "noopener" },
    });
    let minted = mintedAt;
    link.addEventListener("click", async (event) => {
      if (Date.now() - minted < LINK_FRESH_MS) return; // the browser follows the link
      event.preventDefault();
      try {
        const fresh = await this.#request("GET", `/v1/exports/${encodeURIComponent(job.id)}`);
        const url = safeUrl(fresh.download_url);
        if (!url) {
          link.remove();
          this.#refuseLink(fresh.download_url, "download");
          return;
        }
        link.href = url.href;
        minted = Date.now();
        link.click();
      } catch (failure) {
        this.#showFailure(ui.exportStatus, failure, "A fresh download link could not be made", false);
      }
    });
    const parts = [link];
    const evidence = job.evidence_url == null ? null : safeUrl(job.evidence_url);
    if (evidence) {
      parts.push(
        el("a", {
          cls: "evidence",
          text: "Evidence file (for auditors)",
          attrs: { href: evidence.href, download: "", rel: "noopener" },
        }),
      );
    }
    ui.exportLinks.replaceChildren(...parts);
    if (job.evidence_url != null && !evidence) this.#refuseLink(job.evidence_url, "evidence");
    // The person asked for this file a moment ago: start it (the link stays for another try).
    link.click();
  }

  /** Says that a link the API sent was refused by `safeUrl` (never followed, never an href). */
  #refuseLink(url, which) {
    const ui = this.#ui;
    const shown = typeof url === "string" ? url.slice(0, 40) : String(url);
    const what = which === "download" ? "download link" : "evidence file link";
    ui.exportStatus.dataset.state = "error";
    this.#say(
      ui.exportStatus,
      `The export's ${what} was refused: only https:// links are followed, and the service sent "${shown}".`,
      "error",
    );
  }

  // ---- messages --------------------------------------------------------------------------

  #retryable(failure) {
    return failure.status === 0 || failure.status === 429 || failure.status >= 500;
  }

  /** What went wrong, in words a person can act on; `data-kind` says which kind for styling. */
  #showFailure(region, failure, what, listing) {
    const status = failure.status;
    const wait = failure.retryAfterSeconds;
    let text;
    if (failure instanceof RefusedApiBase) {
      text = failure.message;
    } else if (status === 401) {
      text = "Your session has expired. Sign in again to see the security logs.";
    } else if (status === 403) {
      text = "This sign-in may not see these security logs. Sign in again with another account.";
    } else if (status === 0) {
      text = `${what}: the service could not be reached. Check your connection and retry.`;
    } else if (status === 429) {
      text = `${what}: too many requests. Retry ${wait ? `in ${wait} seconds` : "in a moment"}.`;
    } else if (status >= 500) {
      text = `${what}: the service had a problem (${status}). Retry in a moment.`;
    } else {
      const fields = Array.isArray(failure.problem?.errors)
        ? failure.problem.errors.map((e) => `${e.field}: ${e.message}`).join("; ")
        : "";
      text = `${what}: ${fields || failure.message}.${listing ? " Check the filters." : ""}`;
    }
    this.#say(region, text, status === 401 ? "unauthorized" : "error");
  }

  #say(region, text, kind = null) {
    region.textContent = text;
    if (kind) region.dataset.kind = kind;
    else delete region.dataset.kind;
  }

  #setState(state) {
    this.#ui.root.dataset.state = state;
  }

  // ---- the page's structure (built once; data never goes through HTML) --------------------

  #render() {
    const id = `security-logs-${++nextId}`;
    const styles = el("link", { attrs: { rel: "stylesheet", href: STYLES_URL.href } });

    const title = el("h2", { cls: "title", text: "Security Logs", attrs: { id: `${id}-title` } });
    const exportButton = el("button", { cls: "export", text: "Export as CSV", attrs: { type: "button" } });

    const typeBoxes = EVENT_TYPES.map(([type, label]) =>
      el("label", { cls: "check" }, [
        el("input", { attrs: { type: "checkbox", name: "type", value: type } }),
        document.createTextNode(label),
      ]),
    );
    const typeSummary = el("summary", { text: "Event types: all" });
    const types = el("details", { cls: "types" }, [
      typeSummary,
      el("fieldset", {}, [el("legend", { cls: "visually-hidden", text: "Event types" }), ...typeBoxes]),
    ]);
    const field = (label, input) => el("label", { cls: "field" }, [el("span", { text: label }), input]);
    const form = el("form", { cls: "filters", attrs: { role: "search", "aria-label": "Filter security logs" } }, [
      types,
      field("User ID", el("input", { attrs: { name: "actor", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "e.g. u_1" } })),
      field("From", el("input", { attrs: { name: "from", type: "date" } })),
      field("To", el("input", { attrs: { name: "to", type: "date" } })),
      el("label", { cls: "check toggle" }, [
        el("input", { attrs: { type: "checkbox", name: "unfamiliar", role: "switch" } }),
        document.createTextNode("Unfamiliar sign-ins only"),
      ]),
      el("div", { cls: "actions" }, [
        el("button", { text: "Apply filters", attrs: { type: "submit" } }),
        el("button", { cls: "secondary-button", text: "Clear", attrs: { type: "reset" } }),
      ]),
    ]);

    const status = el("p", { cls: "status", attrs: { role: "status", "aria-live": "polite" } });
    const retry = el("button", { cls: "retry", text: "Retry", attrs: { type: "button", hidden: "" } });
    const exportStatus = el("p", { cls: "export-status", attrs: { role: "status", "aria-live": "polite" } });
    const exportLinks = el("p", { cls: "export-links" });

    const caption = el("caption", {
      text: `Security log entries, newest first. Times in ${this.#zone}.`,
    });
    // Explicit roles: the phone layout displays the table's parts as blocks, which makes some
    // screen readers forget they are a table.
    const headers = COLUMNS.map((name) => el("th", { text: name, attrs: { scope: "col", role: "columnheader" } }));
    const head = el("thead", { attrs: { role: "rowgroup" } }, [el("tr", { attrs: { role: "row" } }, headers)]);
    const body = el("tbody", { attrs: { role: "rowgroup" } });
    const table = el("table", { attrs: { hidden: "", role: "table" } }, [caption, head, body]);
    const empty = el("p", { cls: "empty", text: "No entries match these filters.", attrs: { hidden: "" } });
    const loadMore = el("button", { cls: "load-more", text: "Load more", attrs: { type: "button", hidden: "" } });
    const integrity = el("p", { cls: "integrity", attrs: { hidden: "" } });
    const list = el("div", { cls: "list" }, [table, empty]);
    this.#streams = new StreamsPanel({
      request: (method, path, body) => this.#request(method, path, body),
      el,
      showFailure: (region, failure, what) => this.#showFailure(region, failure, what, false),
      say: (region, text, kind) => this.#say(region, text, kind),
    });
    const streams = this.#streams.render();

    const root = el("section", { cls: "security-logs", attrs: { "aria-labelledby": `${id}-title`, part: "root" } }, [
      el("header", {}, [title, exportButton]),
      exportStatus,
      exportLinks,
      form,
      el("div", { cls: "status-line" }, [status, retry]),
      list,
      loadMore,
      integrity,
      streams,
    ]);

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#loadPage(false);
    });
    form.addEventListener("change", (event) => {
      if (event.target.name === "type") {
        const chosen = form.querySelectorAll("input[name=type]:checked").length;
        typeSummary.textContent = chosen ? `Event types: ${chosen} chosen` : "Event types: all";
      }
      if (event.target.name !== "actor") this.#loadPage(false);
    });
    form.addEventListener("reset", () => {
      typeSummary.textContent = "Event types: all";
      setTimeout(() => this.#loadPage(false)); // after the form has cleared its fields
    });
    loadMore.addEventListener("click", () => this.#loadPage(true));
    exportButton.addEventListener("click", () => this.#startExport());

    this.shadowRoot.replaceChildren(styles, root);
    this.#ui = { root, form, status, retry, exportButton, exportStatus, exportLinks, table, body, empty, loadMore, integrity, list };
  }
}

if (!customElements.get("security-logs")) customElements.define("security-logs", SecurityLogs);
