/*
 * <notification-bell>: the bell of the inbox notifications service, as a web component.
 * Plain JavaScript, no build step, no dependencies: served by the service at /static/notification-bell.js,
 * or copy this file into your app. See the README ("The bell in your page").
 *
 *   <script src="https://API/static/notification-bell.js" defer></script>
 *   <notification-bell api-base="https://API" token="..."></notification-bell>
 *   // or, for tokens that expire: bell.getToken = async ({ forceRefresh }) => (await fetch("/my/token")).text();
 *
 * Attributes: api-base (required), token, user ("me"), page-size (20), lang (dates), theme ("light"|"dark";
 * default: the system's), label, realtime ("off": poll only). Properties: getToken, texts, changeSource,
 * realtimeState ("connecting" | "open" | "polling" | "off").
 * Changes arrive over the service's WebSocket push channel (a ticket from POST /v1/realtime/tickets); when the
 * socket cannot open or drops, the bell polls the unread count with its ETag and reconnects with backoff.
 * Events: notification-bell:unread {count}, notification-bell:open, notification-bell:activate {notification},
 * notification-bell:realtime {state}
 * (cancelable: call preventDefault() to route in your single-page app instead of following the url).
 */
(() => {
  "use strict";

  /** Every text the bell shows; replace any of them with `bell.texts = {...}` (or NotificationBell.texts). */
  const TEXTS = {
    bell: "Notifications",
    unreadCount: (n) => (n === 1 ? "1 unread notification" : `${n} unread notifications`),
    title: "Notifications",
    markAllRead: "Mark all as read",
    empty: "You're all caught up.",
    loading: "Loading…",
    loadingMore: "Loading older notifications…",
    error: "Notifications could not be loaded.",
    retry: "Retry",
    unread: "Unread",
    close: "Close",
  };

  // Elements and attributes kept from the API's (already sanitized) message HTML; everything else is
  // unwrapped to its text, or dropped with its content for the elements below.
  const KEEP = new Set(["P", "BR", "STRONG", "B", "EM", "I", "CODE", "PRE", "UL", "OL", "LI", "A", "BLOCKQUOTE",
    "DEL", "S", "HR", "SPAN", "SUB", "SUP"]);
  const DROP = new Set(["SCRIPT", "STYLE", "IFRAME", "OBJECT", "EMBED", "TEMPLATE", "SVG", "MATH", "NOSCRIPT",
    "FORM", "INPUT", "BUTTON", "TEXTAREA", "SELECT", "IMG", "VIDEO", "AUDIO", "LINK", "META", "BASE", "FRAME"]);

  /** An absolute http(s) URL, or null: the only kind the bell navigates to or loads. */
  function httpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  /**
   * The message HTML as new DOM nodes built element by element from an inert parse (DOMParser runs no
   * script and loads nothing): no markup string ever reaches the live document, no attribute but a
   * link's http(s)/mailto href survives, so nothing in a message can run.
   */
  function safeFragment(html) {
    const out = document.createDocumentFragment();
    if (typeof html !== "string" || !html) return out;
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          to.appendChild(document.createTextNode(node.nodeValue));
        } else if (node.nodeType === Node.ELEMENT_NODE) {
          const tag = node.tagName.toUpperCase();
          if (DROP.has(tag)) continue;
          if (!KEEP.has(tag)) {
            copy(node, to);
            continue;
          }
          const el = document.createElement(tag.toLowerCase());
          if (tag === "A") {
            const href = node.getAttribute("href") || "";
            const safe = /^mailto:/i.test(href) ? href : httpUrl(href);
            if (safe) {
              el.setAttribute("href", safe);
              el.setAttribute("target", "_blank");
              el.setAttribute("rel", "noopener noreferrer nofollow");
            }
          }
          copy(node, el);
          to.appendChild(el);
        }
      }
    };
    copy(parsed.body, out);
    return out;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child == null || child === false) continue;
      node.append(child);
    }
    return node;
  }

  const BELL_ICON = "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 " +
    "0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z";

  function svgIcon(path) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }

  // Theme: public custom properties (--nb-*) with light defaults; dark defaults (--nb-*-dark) apply with the
  // system's dark scheme, or with theme="dark".
  const DARK = `
    --_bg: var(--nb-bg-dark, #1d2127); --_fg: var(--nb-fg-dark, #e8eaed); --_muted: var(--nb-muted-dark, #9aa3ad);
    --_border: var(--nb-border-dark, #343a42); --_hover: var(--nb-hover-dark, #262b33);
    --_unread-bg: var(--nb-unread-bg-dark, #1c2a3d); --_accent: var(--nb-accent-dark, #6cb0ff);
    --_icon: var(--nb-icon-color-dark, #e8eaed); --_shadow: var(--nb-shadow-dark, 0 12px 32px rgba(0,0,0,.55));`;
  const STYLE = `
    :host { position: relative; display: inline-block; font: var(--nb-font, 14px/1.4 system-ui, -apple-system,
      "Segoe UI", Roboto, sans-serif); color-scheme: light dark;
      --_bg: var(--nb-bg, #ffffff); --_fg: var(--nb-fg, #1f2328); --_muted: var(--nb-muted, #5f6b76);
      --_border: var(--nb-border, #d8dee4); --_hover: var(--nb-hover, #f3f5f7); --_unread-bg: var(--nb-unread-bg, #eef5ff);
      --_accent: var(--nb-accent, #0b63ce); --_badge-bg: var(--nb-badge-bg, #d1242f); --_badge-fg: var(--nb-badge-fg, #fff);
      --_icon: var(--nb-icon-color, #1f2328); --_radius: var(--nb-radius, 10px);
      --_shadow: var(--nb-shadow, 0 12px 32px rgba(31,35,40,.18)); }
    @media (prefers-color-scheme: dark) { :host(:not([theme="light"])) { ${DARK} } }
    :host([theme="dark"]) { ${DARK} }
    [hidden] { display: none !important; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    button { font: inherit; color: inherit; }
    .bell { position: relative; display: grid; place-items: center; width: var(--nb-size, 40px); height: var(--nb-size, 40px);
      padding: 0; border: 0; border-radius: 50%; background: transparent; color: var(--_icon); cursor: pointer; }
    .bell:hover { background: color-mix(in srgb, var(--_icon) 10%, transparent); }
    .bell:focus-visible, .item:focus-visible, .link:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
    .bell svg { width: 60%; height: 60%; fill: currentColor; }
    .badge { position: absolute; top: 2px; right: 0; min-width: 18px; height: 18px; padding: 0 5px; box-sizing: border-box;
      border-radius: 9px; background: var(--_badge-bg); color: var(--_badge-fg); font-size: 11px; font-weight: 700;
      line-height: 18px; text-align: center; box-shadow: 0 0 0 2px var(--nb-badge-ring, transparent); }
    .panel { position: fixed; z-index: var(--nb-z-index, 1000); display: flex; flex-direction: column; box-sizing: border-box;
      width: min(var(--nb-panel-width, 380px), calc(100vw - 16px)); max-height: var(--_max-height, 70vh);
      background: var(--_bg); color: var(--_fg); border: 1px solid var(--_border); border-radius: var(--_radius);
      box-shadow: var(--_shadow); overflow: hidden; text-align: left; }
    .panel:focus { outline: none; }
    .head { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 10px 12px 10px 16px;
      border-bottom: 1px solid var(--_border); }
    .head h2 { margin: 0; font-size: 15px; font-weight: 650; }
    .link { border: 0; background: none; padding: 4px 6px; border-radius: 6px; color: var(--_accent); cursor: pointer; font-size: 13px; }
    .link:disabled { color: var(--_muted); cursor: default; }
    .list { list-style: none; margin: 0; padding: 0; overflow-y: auto; overscroll-behavior: contain; flex: 1 1 auto; }
    .item { display: grid; grid-template-columns: 36px 1fr 10px; gap: 10px; padding: 12px 14px 12px 16px; cursor: pointer;
      border-bottom: 1px solid var(--_border); }
    .item:hover { background: var(--_hover); }
    .item.unread { background: var(--_unread-bg); }
    .icon { width: 36px; height: 36px; border-radius: 50%; overflow: hidden; display: grid; place-items: center;
      background: color-mix(in srgb, var(--_accent) 18%, var(--_bg)); color: var(--_accent); font-weight: 700; font-size: 14px; }
    .icon img { width: 100%; height: 100%; object-fit: cover; }
    .icon svg { width: 20px; height: 20px; fill: currentColor; }
    .body { min-width: 0; overflow-wrap: anywhere; }
    .header { margin-bottom: 2px; }
    .message { color: var(--_fg); }
    .message > :first-child { margin-top: 0; } .message > :last-child { margin-bottom: 0; }
    .message p, .message ul, .message ol, .message pre, .message blockquote { margin: 0 0 4px; }
    .message pre { white-space: pre-wrap; }
    .message a { color: var(--_accent); }
    .message code { font-size: 0.92em; padding: 0 3px; border-radius: 4px; background: color-mix(in srgb, var(--_fg) 8%, transparent); }
    time { display: block; margin-top: 4px; color: var(--_muted); font-size: 12px; }
    .dot { width: 8px; height: 8px; margin-top: 6px; border-radius: 50%; background: var(--_accent); }
    .item:not(.unread) .dot { visibility: hidden; }
    .status { padding: 20px 16px; color: var(--_muted); text-align: center; }
    .status .link { margin-left: 4px; }
  `;

  const DEFAULT_POLL_SECONDS = 30;
  const MAX_BACKOFF_SECONDS = 300;

  /**
   * The default change source: polls the unread count with its ETag (a 304 costs the service one read) every
   * X-Poll-Interval seconds while the page is visible (a hidden tab does not poll), and at once when it becomes
   * visible again. A push channel replaces it by
   * setting `bell.changeSource = (bell) => stop`, calling `bell.checkForChanges()` when told something changed.
   */
  function pollingSource(bell) {
    let timer = null;
    let stopped = false;
    let failures = 0;
    let paused = false; // hidden: the next poll waits for the page to be visible
    const tick = async () => {
      timer = null;
      if (document.visibilityState === "hidden") {
        paused = true;
        return;
      }
      let wait;
      try {
        wait = await bell.checkForChanges();
        failures = 0;
      } catch (error) {
        console.warn("notification-bell: checking for changes failed:", error?.message || error);
        failures += 1;
        wait = Math.min(MAX_BACKOFF_SECONDS, bell.pollInterval * 2 ** failures);
      }
      if (!stopped) timer = setTimeout(tick, wait * 1000);
    };
    const onVisible = () => {
      if (document.visibilityState !== "visible" || stopped || !(paused || timer !== null)) return;
      paused = false;
      clearTimeout(timer);
      tick();
    };
    document.addEventListener("visibilitychange", onVisible);
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }

  const RECONNECT_FIRST_SECONDS = 1;
  const RECONNECT_MAX_SECONDS = 60;
  const PING_SECONDS = 300; // API Gateway closes a socket idle for 10 minutes

  /**
   * The default change source: the push channel. Asks the service for a single-use ticket, opens the WebSocket
   * it names, and applies each message (`notification.created` / `.updated` / `.deleted`, `inbox.reset`): the
   * count comes with the message, and the list is fetched again only while the panel is open. While the socket
   * is not open (it cannot, it dropped, the service has no push channel) the polling source runs; a dropped
   * socket is reopened with a new ticket after 1, 2, 4 ... 60 seconds (with jitter). A service without the
   * channel (503, or 404 from an older one) is simply polled. `realtime="off"` polls only.
   */
  function realtimeSource(bell) {
    if (bell.getAttribute("realtime") === "off" || typeof WebSocket !== "function") {
      bell._setRealtimeState("off");
      return pollingSource(bell);
    }
    let stopped = false;
    let socket = null;
    let stopPolling = null;
    let retryTimer = null;
    let pingTimer = null;
    let attempts = 0;
    const poll = () => {
      if (!stopPolling && !stopped) stopPolling = pollingSource(bell);
    };
    const unpoll = () => {
      stopPolling?.();
      stopPolling = null;
    };
    const retry = () => {
      if (stopped) return;
      const wait = Math.min(RECONNECT_MAX_SECONDS, RECONNECT_FIRST_SECONDS * 2 ** attempts);
      attempts += 1;
      retryTimer = setTimeout(connect, wait * 1000 * (0.5 + Math.random() / 2));
    };
    const connect = async () => {
      retryTimer = null;
      if (stopped) return;
      bell._setRealtimeState("connecting");
      let url;
      try {
        const query = bell.user === "me" ? "" : `?userId=${encodeURIComponent(bell.user)}`;
        const r = await bell._fetch(`/v1/realtime/tickets${query}`, { method: "POST" });
        if (stopped) return;
        if (r.status === 503 || r.status === 404) { // no push channel here: poll
          bell._setRealtimeState("polling");
          poll();
          return;
        }
        if (r.status !== 201) throw new Error(`ticket answered ${r.status}`);
        url = (await r.json()).url;
      } catch (error) {
        console.warn("notification-bell: no push channel, polling:", error?.message || error);
        bell._setRealtimeState("polling");
        poll();
        retry();
        return;
      }
      if (stopped) return;
      const ws = (socket = new WebSocket(url));
      ws.onopen = () => {
        if (stopped || ws !== socket) return ws.close();
        attempts = 0;
        unpoll();
        bell._setRealtimeState("open");
        pingTimer = setInterval(() => ws.readyState === 1 && ws.send('{"action":"ping"}'), PING_SECONDS * 1000);
        // whatever changed before the socket opened: one conditional read
        bell.checkForChanges().catch((error) => console.warn("notification-bell:", error?.message || error));
      };
      ws.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        bell._applyPush(message);
      };
      ws.onclose = () => {
        clearInterval(pingTimer);
        if (ws !== socket || stopped) return;
        socket = null;
        bell._setRealtimeState("polling");
        poll();
        retry();
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      unpoll();
      const open = socket;
      socket = null;
      open?.close();
    };
  }

  class NotificationBell extends HTMLElement {
    static get observedAttributes() {
      return ["api-base", "token", "user", "label", "realtime"];
    }

    constructor() {
      super();
      // Properties a page may set before this script ran (on the element not yet upgraded) are kept.
      const early = { getToken: this.getToken, texts: this.texts, changeSource: this.changeSource };
      for (const name of Object.keys(early)) delete this[name];
      this._getToken = early.getToken || null;
      this.texts = early.texts || {};
      this.changeSource = early.changeSource || realtimeSource;
      this.realtimeState = "off";
      this.pollInterval = DEFAULT_POLL_SECONDS;
      this._count = 0;
      this._countEtag = null;
      this._items = [];
      this._cursor = null;
      this._loaded = false; // the first page has been fetched
      this._stale = true; // something changed since the list was fetched
      this._loading = false;
      this._refreshPending = false; // a refresh asked for while a page was loading
      this._connected = false;
      this._generation = 0; // bumped by a restart: answers to an older one's requests are dropped
      this._error = false;
      this._open = false;
      this._uid = Math.random().toString(36).slice(2, 8);
      const root = this.attachShadow({ mode: "open" });
      root.append(el("style", {}, STYLE));
      this._button = el("button", { class: "bell", type: "button", part: "button", "aria-haspopup": "dialog",
        "aria-expanded": "false", "aria-controls": `nb-panel-${this._uid}` }, svgIcon(BELL_ICON));
      this._badge = el("span", { class: "badge", part: "badge", "aria-hidden": "true", hidden: true });
      this._button.append(this._badge);
      this._live = el("span", { class: "sr-only", "aria-live": "polite" });
      this._title = el("h2", { id: `nb-title-${this._uid}` });
      this._markAll = el("button", { class: "link", type: "button", part: "mark-all" });
      this._list = el("ul", { class: "list", role: "list", part: "list" });
      this._status = el("div", { class: "status", role: "status" });
      this._sentinel = el("li", { class: "sentinel", "aria-hidden": "true" });
      this._panel = el("div", { class: "panel", part: "panel", role: "dialog", id: `nb-panel-${this._uid}`,
        "aria-labelledby": this._title.id, tabindex: "-1", hidden: true },
        el("div", { class: "head" }, this._title, this._markAll), this._list, this._status);
      root.append(this._button, this._live, this._panel);

      this._button.addEventListener("click", () => (this._open ? this.close() : this.open()));
      this._markAll.addEventListener("click", () => this.markAllRead());
      this._panel.addEventListener("keydown", (e) => this._onKey(e));
      this._panel.addEventListener("focusout", (e) => {
        const to = e.relatedTarget;
        if (this._open && to && to !== this && !this.shadowRoot.contains(to)) this.close(false);
      });
      this._list.addEventListener("click", (e) => this._onItemClick(e));
      this._list.addEventListener("scroll", () => this._maybeLoadMore(), { passive: true });
      this._onOutside = (e) => {
        if (this._open && !e.composedPath().includes(this)) this.close(false);
      };
      this._onViewport = () => this._open && this._place();
      this._observer = typeof IntersectionObserver === "function"
        ? new IntersectionObserver((entries) => entries.some((x) => x.isIntersecting) && this._maybeLoadMore(),
          { root: this._list, rootMargin: "80px" })
        : null;
    }

    // ---- configuration ---------------------------------------------------------------------------------------

    get apiBase() {
      return (this.getAttribute("api-base") || "").replace(/\/+$/, "");
    }

    get user() {
      return this.getAttribute("user") || "me";
    }

    get pageSize() {
      const n = parseInt(this.getAttribute("page-size") || "20", 10);
      return n >= 1 && n <= 100 ? n : 20;
    }

    get token() {
      return this.getAttribute("token");
    }

    set token(value) {
      if (value) this.setAttribute("token", value);
      else this.removeAttribute("token");
    }

    /** A function ({forceRefresh}) => token or Promise of a token, for tokens that expire. */
    get getToken() {
      return this._getToken;
    }

    set getToken(fn) {
      this._getToken = typeof fn === "function" ? fn : null;
      if (this._connected) this._restart();
    }

    /** The texts in use: NotificationBell.texts, then this bell's own `texts`. */
    t(key, ...args) {
      const value = { ...NotificationBell.texts, ...(this.texts || {}) }[key];
      return typeof value === "function" ? value(...args) : value;
    }

    connectedCallback() {
      this._connected = true;
      this._renderStatic();
      document.addEventListener("pointerdown", this._onOutside, true);
      window.addEventListener("resize", this._onViewport);
      this._restart();
    }

    disconnectedCallback() {
      this._connected = false;
      document.removeEventListener("pointerdown", this._onOutside, true);
      window.removeEventListener("resize", this._onViewport);
      this._stop?.();
      this._stop = null;
    }

    attributeChangedCallback(name, before, after) {
      if (before === after || !this._connected) return;
      if (name === "label") this._renderStatic();
      else this._restart();
    }

    /** Connected, or another API, user or token: start over. */
    _restart() {
      this._generation += 1;
      this._countEtag = null;
      this._items = [];
      this._cursor = null;
      this._loaded = false;
      this._stale = true;
      this._stop?.();
      this._stop = this.apiBase ? this.changeSource(this) : null;
      if (this._open) this._refreshList();
    }

    // ---- the API ----------------------------------------------------------------------------------------------

    async _bearer(forceRefresh) {
      const token = this._getToken ? await this._getToken({ forceRefresh }) : this.token;
      if (!token) throw new Error("notification-bell: no token (set the token attribute or getToken)");
      return token;
    }

    /** fetch against the API with the bearer token; a 401 asks getToken once more for a fresh one. */
    async _fetch(path, { method = "GET", body, etag } = {}, retried = false) {
      const headers = { Authorization: `Bearer ${await this._bearer(retried)}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (etag) headers["If-None-Match"] = etag;
      const response = await fetch(this.apiBase + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
        credentials: "omit", mode: "cors",
      });
      if (response.status === 401 && !retried && this._getToken) {
        return this._fetch(path, { method, body, etag }, true);
      }
      return response;
    }

    _userPath() {
      return `/v1/users/${encodeURIComponent(this.user)}/notifications`;
    }

    /**
     * Ask the service whether anything changed (one conditional request); refresh what is shown if so.
     * Returns the seconds to wait before asking again (the service's X-Poll-Interval).
     */
    async checkForChanges() {
      const generation = this._generation;
      const r = await this._fetch(`${this._userPath()}/unread-count`, { etag: this._countEtag });
      if (generation !== this._generation) return this.pollInterval;
      const interval = parseInt(r.headers.get("X-Poll-Interval") || "", 10);
      if (interval > 0) this.pollInterval = interval;
      if (r.status === 200) {
        this._countEtag = r.headers.get("ETag");
        this._setCount((await r.json()).unreadCount);
        this._stale = true;
        if (this._open) await this._refreshList();
      } else if (r.status !== 304) {
        throw new Error(`notification-bell: unread count answered ${r.status}`);
      }
      return this.pollInterval;
    }

    /** A message of the push channel: the count it carries; the list is fetched again when it is shown. */
    _applyPush(message) {
      if (!message || typeof message.event !== "string" || message.event === "pong") return;
      if (Number.isInteger(message.unreadCount) && message.unreadCount >= 0) this._setCount(message.unreadCount);
      this._countEtag = null; // a poll after a drop reads the count again
      this._stale = true;
      if (this._open) this._refreshList();
    }

    _setRealtimeState(state) {
      if (this.realtimeState === state) return;
      this.realtimeState = state;
      this.dispatchEvent(new CustomEvent("notification-bell:realtime", { detail: { state } }));
    }

    /** The newest page; older pages already shown are kept (cursors are positions, so they stay valid). */
    _refreshList() {
      return this._fetchPage(null, (page) => {
        const fresh = new Set(page.notifications.map((n) => n.id));
        const lastFresh = page.notifications[page.notifications.length - 1];
        const kept = lastFresh ? this._items.filter((n) => !fresh.has(n.id) && activity(n) < activity(lastFresh)) : [];
        this._items = page.notifications.concat(kept);
        this._cursor = kept.length ? this._cursor : page.cursor;
        this._loaded = true;
        this._stale = false;
      });
    }

    /** The page after the last one shown (when the list is scrolled to its end). */
    _loadMore() {
      if (!this._cursor) return Promise.resolve();
      return this._fetchPage(this._cursor, (page) => {
        const known = new Set(this._items.map((n) => n.id));
        this._items = this._items.concat(page.notifications.filter((n) => !known.has(n.id)));
        this._cursor = page.cursor;
      });
    }

    /** One page of the inbox (the newest, or after `cursor`) handed to `merge`; a failure shows Retry. One
     * request at a time: a refresh asked for meanwhile runs right after. */
    async _fetchPage(cursor, merge) {
      if (this._loading) {
        if (!cursor) this._refreshPending = true;
        return;
      }
      this._loading = true;
      this._renderStatus();
      try {
        const query = `?limit=${this.pageSize}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
        const generation = this._generation;
        const r = await this._fetch(this._userPath() + query);
        if (!r.ok) throw new Error(String(r.status));
        const page = await r.json();
        if (generation === this._generation) merge(page);
        this._error = false;
      } catch {
        this._error = true;
      } finally {
        this._loading = false;
      }
      this._renderList();
      if (this._refreshPending) {
        this._refreshPending = false;
        await this._refreshList();
      } else {
        this._maybeLoadMore();
      }
    }

    _maybeLoadMore() {
      const list = this._list;
      if (this._open && this._cursor && !this._loading && !this._error &&
          list.scrollTop + list.clientHeight >= list.scrollHeight - 80) {
        this._loadMore();
      }
    }

    /** Mark one notification read (if it is not) and follow its url (http and https only). */
    async activate(notification, { newTab = false } = {}) {
      const proceed = this.dispatchEvent(new CustomEvent("notification-bell:activate",
        { detail: { notification }, cancelable: true, bubbles: true, composed: true }));
      await this._markRead(notification);
      const url = httpUrl(notification.url);
      if (!proceed || !url) return;
      if (newTab) window.open(url, "_blank", "noopener");
      else window.location.assign(url);
    }

    /** Read at once on screen; the request is awaited (at most 2 s) because navigating would cancel it. */
    async _markRead(notification) {
      if (notification.read) return;
      notification.read = true;
      this._setCount(Math.max(0, this._count - 1));
      this._renderList();
      const marking = this._fetch(`/v1/notifications/${encodeURIComponent(notification.id)}`,
        { method: "PATCH", body: { read: true } }).catch(() => null);
      await Promise.race([marking, new Promise((done) => setTimeout(done, 2000))]);
    }

    async markAllRead() {
      this._items.forEach((n) => (n.read = true));
      this._setCount(0);
      this._renderList();
      try {
        await this._fetch(`${this._userPath()}/read`, { method: "POST", body: { all: true } });
      } finally {
        this._countEtag = null; // the next check reads the count again
      }
    }

    // ---- opening and closing ---------------------------------------------------------------------------------

    open() {
      if (this._open) return;
      this._open = true;
      this._panel.hidden = false;
      this._button.setAttribute("aria-expanded", "true");
      this._place();
      this._panel.focus();
      this._observer?.observe(this._sentinel);
      this.dispatchEvent(new CustomEvent("notification-bell:open", { bubbles: true, composed: true }));
      if (this._stale || !this._loaded) this._refreshList();
      else this._renderList();
    }

    close(returnFocus = true) {
      if (!this._open) return;
      this._open = false;
      this._panel.hidden = true;
      this._button.setAttribute("aria-expanded", "false");
      this._observer?.unobserve(this._sentinel);
      if (returnFocus) this._button.focus();
    }

    /** Below the bell, inside the viewport whatever the bell's place or the screen's width. */
    _place() {
      const rect = this._button.getBoundingClientRect();
      const width = this._panel.offsetWidth;
      const vw = document.documentElement.clientWidth;
      const left = Math.max(8, Math.min(rect.right - width, vw - width - 8));
      const top = rect.bottom + 8;
      this._panel.style.left = `${left}px`;
      this._panel.style.top = `${top}px`;
      this._panel.style.setProperty("--_max-height", `${Math.max(200, Math.min(560, window.innerHeight - top - 12))}px`);
    }

    // ---- keyboard and pointer --------------------------------------------------------------------------------

    _onKey(e) {
      if (e.key === "Escape") {
        e.preventDefault();
        this.close();
        return;
      }
      const items = [...this._list.querySelectorAll(".item")];
      const index = items.indexOf(this.shadowRoot.activeElement);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const next = index < 0 ? 0 : Math.max(0, Math.min(items.length - 1, index + (e.key === "ArrowDown" ? 1 : -1)));
        items[next]?.focus();
        this._maybeLoadMore();
      } else if ((e.key === "Enter" || e.key === " ") && index >= 0 && e.target === items[index]) {
        e.preventDefault();
        this._activateElement(items[index], e.ctrlKey || e.metaKey);
      }
    }

    _onItemClick(e) {
      const item = e.target.closest?.(".item");
      if (!item) return;
      if (e.target.closest("a[href]")) {
        // A link inside the message opens in a new tab; the notification is then read too.
        const n = this._find(item);
        if (n) this._markRead(n);
        return;
      }
      this._activateElement(item, e.ctrlKey || e.metaKey);
    }

    _activateElement(item, newTab) {
      const n = this._find(item);
      if (n) this.activate(n, { newTab });
    }

    _find(item) {
      return this._items.find((n) => n.id === item.dataset.id);
    }

    // ---- rendering ---------------------------------------------------------------------------------------------

    _setCount(count) {
      const changed = count !== this._count;
      const grew = count > this._count;
      this._count = count;
      this._badge.hidden = count <= 0;
      this._badge.textContent = count > 99 ? "99+" : String(count);
      this._renderStatic();
      if (grew) this._live.textContent = this.t("unreadCount", count);
      if (changed) {
        this.dispatchEvent(new CustomEvent("notification-bell:unread", { detail: { count }, bubbles: true,
          composed: true }));
      }
    }

    _renderStatic() {
      const label = this.getAttribute("label") || this.t("bell");
      this._button.setAttribute("aria-label", this._count > 0 ? `${label}, ${this.t("unreadCount", this._count)}` : label);
      this._title.textContent = this.t("title");
      this._markAll.textContent = this.t("markAllRead");
      this._markAll.disabled = this._count <= 0 && !this._items.some((n) => !n.read);
    }

    _renderStatus() {
      const status = this._status;
      status.replaceChildren();
      status.hidden = false;
      if (this._loading) {
        status.textContent = this._loaded ? this.t("loadingMore") : this.t("loading");
      } else if (this._error) {
        const retry = el("button", { class: "link", type: "button" }, this.t("retry"));
        retry.addEventListener("click", () => {
          this._error = false;
          return this._loaded ? this._loadMore() : this._refreshList();
        });
        status.append(this.t("error"), retry);
      } else if (this._loaded && !this._items.length) {
        status.textContent = this.t("empty");
      } else {
        status.hidden = true;
      }
    }

    _renderList() {
      const focusedId = this.shadowRoot.activeElement?.dataset?.id;
      const rtf = relativeFormat(this.closest("[lang]")?.getAttribute("lang") || document.documentElement.lang);
      this._list.replaceChildren(...this._items.map((n) => this._renderItem(n, rtf)), this._sentinel);
      this._renderStatic();
      this._renderStatus();
      if (focusedId) this._list.querySelector(`.item[data-id="${CSS.escape(focusedId)}"]`)?.focus();
    }

    _renderItem(n, rtf) {
      const id = `nb-${this._uid}-${n.id.replace(/[^A-Za-z0-9_-]/g, "")}`;
      const header = n.template ? el("div", { class: "header", id: `${id}-h`, part: "item-header" },
        ...(n.header || []).map(headerNode)) : null;
      const message = el("div", { class: "message", id: `${id}-m`, part: "item-message" });
      message.append(n.html ? safeFragment(n.html) : (header ? "" : n.message || n.type || ""));
      const when = n.updatedAt || n.createdAt;
      const time = el("time", { datetime: when, title: when ? new Date(when).toLocaleString() : null },
        when ? relativeTime(rtf, when) : "");
      const item = el("div", { class: `item${n.read ? "" : " unread"}`, part: `item${n.read ? "" : " unread"}`,
        tabindex: "0", "data-id": n.id, "aria-labelledby": header ? header.id : message.id,
        "aria-describedby": header ? message.id : null },
      iconFor(n), el("div", { class: "body" }, n.read ? null : el("span", { class: "sr-only" }, `${this.t("unread")}: `),
        header, message, time), el("span", { class: "dot", "aria-hidden": "true" }));
      return el("li", { role: "listitem" }, item);
    }
  }

  function activity(n) {
    return n.updatedAt || n.createdAt || "";
  }

  /** A header node of the API (text, or a user: shown bold by name). */
  function headerNode(node) {
    if (node.type === "user") {
      const u = node.user || {};
      return el("strong", {}, u.name || u.shortName || u.id || "");
    }
    return node.bold ? el("strong", {}, node.text || "") : document.createTextNode(node.text || "");
  }

  function iconFor(n) {
    const actor = (n.header || []).find((h) => h.type === "user" && h.user && h.user.id === n.actor);
    const src = httpUrl(n.iconUrl) || httpUrl(actor?.user?.profilePictureURL);
    const box = el("span", { class: "icon", part: "item-icon", "aria-hidden": "true" });
    if (src) {
      box.append(el("img", { src, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }));
    } else if (actor) {
      const name = actor.user.name || actor.user.shortName || actor.user.id || "?";
      box.textContent = name.trim().slice(0, 1).toUpperCase();
    } else {
      box.append(svgIcon(BELL_ICON));
    }
    return box;
  }

  function relativeFormat(lang) {
    try {
      return new Intl.RelativeTimeFormat(lang || undefined, { numeric: "auto", style: "short" });
    } catch {
      return new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
    }
  }

  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600],
    ["minute", 60], ["second", 1]];

  function relativeTime(rtf, iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Number.isNaN(seconds)) return "";
    if (Math.abs(seconds) < 45) return rtf.format(0, "second");
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
    }
    return rtf.format(0, "second");
  }

  NotificationBell.texts = { ...TEXTS };
  NotificationBell.pollingSource = pollingSource;
  NotificationBell.realtimeSource = realtimeSource;
  NotificationBell.safeFragment = safeFragment;
  if (!customElements.get("notification-bell")) customElements.define("notification-bell", NotificationBell);
  window.NotificationBell = NotificationBell;
})();
