// The "Streams" part of <security-logs>: the account's streams to its own tools (a webhook, an
// S3 bucket), their health, and adding, replaying and removing one (the /v1/streams routes).
// Built by the element with its own request function and DOM helper, so the token rules, the
// problem+json handling and "data never goes through HTML" are the element's, in one place.

const MAX_STREAMS = 5;
// While the part is open, the streams' health is read again this often.
const REFRESH_MS = 5000;

/** A stream's health in words, from the API's view of it. */
export function streamHealth(stream) {
  const through = stream.delivered_through == null ? "nothing delivered yet" : `delivered through entry #${stream.delivered_through}`;
  const lag = `${stream.lag} ${stream.lag === 1 ? "entry" : "entries"} behind`;
  if (stream.stopped) {
    return {
      state: "stopped",
      text: `Stopped: ${stream.last_error || "the destination refused a delivery"}. Fix the destination, then replay. (${through})`,
    };
  }
  if (stream.status === "failing") {
    return {
      state: "failing",
      text: `Failing since ${stream.failing_since || "recently"}: ${stream.last_error || "no answer"}; retrying. (${through}, ${lag})`,
    };
  }
  return { state: "active", text: `Active: ${through}, ${lag}.` };
}

/** Where a stream sends, as one line. */
export function streamTarget(stream) {
  if (stream.kind === "s3") return `s3://${stream.bucket}/${stream.prefix || ""} (role ${stream.role_arn})`;
  return stream.url || "";
}

export class StreamsPanel {
  #request;
  #el;
  #showFailure;
  #say;
  #ui;
  #refresh = null;

  /** `request(method, path, body)`, `el(tag, opts, children)`, `showFailure(region, failure, what)`
   * and `say(region, text, kind)` are the element's. */
  constructor({ request, el, showFailure, say }) {
    this.#request = request;
    this.#el = el;
    this.#showFailure = showFailure;
    this.#say = say;
  }

  /** The panel's DOM, built once. */
  render() {
    const el = this.#el;
    const field = (label, input) => el("label", { cls: "field" }, [el("span", { text: label }), input]);
    const kind = el("select", { attrs: { name: "kind" } }, [
      el("option", { text: "Webhook (HTTPS POST)", attrs: { value: "webhook" } }),
      el("option", { text: "S3 bucket", attrs: { value: "s3" } }),
    ]);
    const format = el("select", { attrs: { name: "format" } }, [
      el("option", { text: "OCSF", attrs: { value: "ocsf" } }),
      el("option", { text: "Native JSON", attrs: { value: "native" } }),
    ]);
    const text = (name, placeholder, type = "text") =>
      el("input", { attrs: { name, type, autocomplete: "off", spellcheck: "false", placeholder } });
    const webhookFields = el("div", { cls: "webhook-fields" }, [
      field("URL", text("url", "https://siem.example.com/collector", "url")),
      field("Auth header name (optional)", text("auth_name", "Authorization")),
      field("Auth header value (optional)", text("auth_value", "Splunk …", "password")),
    ]);
    const s3Fields = el("div", { cls: "s3-fields", attrs: { hidden: "" } }, [
      field("Bucket", text("bucket", "my-security-logs")),
      field("Prefix", text("prefix", "security-logs/")),
      field("Role ARN", text("role_arn", "arn:aws:iam::123456789012:role/security-logs-writer")),
      field("Region", text("region", "us-east-1")),
    ]);
    const form = el("form", { cls: "add-stream", attrs: { "aria-label": "Add a stream" } }, [
      field("Destination", kind),
      field("Format", format),
      webhookFields,
      s3Fields,
      el("div", { cls: "actions" }, [el("button", { text: "Add stream", attrs: { type: "submit" } })]),
    ]);
    const status = el("p", { cls: "streams-status", attrs: { role: "status", "aria-live": "polite" } });
    const secret = el("div", { cls: "stream-secret", attrs: { hidden: "" } });
    const list = el("ul", { cls: "stream-list" });
    const root = el("details", { cls: "streams" }, [
      el("summary", { text: "Streams to your SIEM" }),
      el("p", {
        cls: "streams-intro",
        text: `Every entry of this account, in order, sent to your own tools as it is recorded (at most ${MAX_STREAMS} streams).`,
      }),
      list,
      secret,
      form,
      status,
    ]);
    kind.addEventListener("change", () => {
      webhookFields.hidden = kind.value !== "webhook";
      s3Fields.hidden = kind.value !== "s3";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#add();
    });
    root.addEventListener("toggle", () => {
      if (root.open) this.load();
    });
    this.#ui = { root, form, status, secret, list };
    return root;
  }

  /** Lists the account's streams (when the panel is open), and again every few seconds while it
   * stays open and on the page. */
  async load() {
    const ui = this.#ui;
    clearTimeout(this.#refresh);
    this.#refresh = null;
    if (!ui.root.open || !ui.root.isConnected) return;
    this.#refresh = setTimeout(() => this.load(), REFRESH_MS);
    try {
      const page = await this.#request("GET", "/v1/streams");
      const streams = Array.isArray(page?.data) ? page.data : [];
      ui.list.replaceChildren(...streams.map((stream) => this.#item(stream)));
      if (!streams.length) ui.list.replaceChildren(this.#el("li", { cls: "empty", text: "No streams yet." }));
      ui.form.hidden = streams.length >= MAX_STREAMS;
    } catch (failure) {
      this.#showFailure(ui.status, failure, "The streams could not be loaded");
    }
  }

  #item(stream) {
    const el = this.#el;
    const health = streamHealth(stream);
    const from = el("input", {
      attrs: { type: "number", min: "0", step: "1", value: "0", name: "from_index", "aria-label": "Replay from entry #" },
    });
    const replay = el("button", { cls: "secondary-button", text: "Replay", attrs: { type: "button" } });
    const remove = el("button", { cls: "secondary-button danger", text: "Remove", attrs: { type: "button" } });
    replay.addEventListener("click", () => this.#replay(stream, from.value));
    remove.addEventListener("click", () => this.#remove(stream));
    return el("li", { cls: "stream", attrs: { "data-id": String(stream.id ?? ""), "data-state": health.state } }, [
      el("span", { cls: "primary", text: streamTarget(stream) }),
      el("span", { cls: "secondary", text: `${stream.kind} · ${stream.format}${stream.external_id ? ` · external id ${stream.external_id}` : ""}` }),
      el("span", { cls: "health", text: health.text }),
      el("span", { cls: "stream-actions" }, [el("label", { cls: "field inline" }, [el("span", { text: "From entry #" }), from]), replay, remove]),
    ]);
  }

  /** The create body from the form, in the API's terms. */
  #body() {
    const f = this.#ui.form.elements;
    const body = { kind: f.kind.value, format: f.format.value };
    if (body.kind === "webhook") {
      body.url = f.url.value.trim();
      if (f.auth_name.value.trim() || f.auth_value.value) {
        body.auth_header = { name: f.auth_name.value.trim(), value: f.auth_value.value };
      }
    } else {
      for (const name of ["bucket", "prefix", "role_arn", "region"]) body[name] = f[name].value.trim();
    }
    return body;
  }

  async #add() {
    const ui = this.#ui;
    this.#say(ui.status, "Adding the stream…");
    try {
      const created = await this.#request("POST", "/v1/streams", this.#body());
      ui.form.reset();
      ui.form.elements.kind.dispatchEvent(new Event("change"));
      this.#showSecret(created);
      this.#say(ui.status, "Stream added: it starts with the oldest entry of the log.");
      await this.load();
    } catch (failure) {
      this.#showFailure(ui.status, failure, "The stream could not be added");
    }
  }

  /** The signing secret (webhooks) or the external id (s3), which the merchant must copy now. */
  #showSecret(created) {
    const el = this.#el;
    const ui = this.#ui;
    const parts = [];
    if (created.secret) {
      parts.push(
        el("p", { text: "Signing secret (shown only now: copy it into your receiver to check each delivery's Security-Logs-Signature):" }),
        el("code", { cls: "secret-value", text: created.secret }),
      );
    }
    if (created.external_id) {
      parts.push(
        el("p", { text: "Your role's trust policy must require this external id (sts:ExternalId):" }),
        el("code", { cls: "external-id", text: created.external_id }),
      );
    }
    ui.secret.replaceChildren(...parts);
    ui.secret.hidden = parts.length === 0;
  }

  async #replay(stream, fromText) {
    const ui = this.#ui;
    const from = Number.parseInt(fromText, 10);
    if (!Number.isInteger(from) || from < 0) {
      this.#say(ui.status, "Replay: the entry # must be 0 or more.", "error");
      return;
    }
    try {
      await this.#request("POST", `/v1/streams/${encodeURIComponent(stream.id)}/replay`, { from_index: from });
      this.#say(ui.status, `Replaying from entry #${from}.`);
      await this.load();
    } catch (failure) {
      this.#showFailure(ui.status, failure, "The replay could not be started");
    }
  }

  async #remove(stream) {
    const ui = this.#ui;
    try {
      await this.#request("DELETE", `/v1/streams/${encodeURIComponent(stream.id)}`);
      ui.secret.hidden = true;
      this.#say(ui.status, "Stream removed.");
      await this.load();
    } catch (failure) {
      this.#showFailure(ui.status, failure, "The stream could not be removed");
    }
  }
}
