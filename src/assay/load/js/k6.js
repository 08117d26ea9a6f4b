// k6's JavaScript API on assay's engine. Every call that does I/O or records a metric goes to a
// host function (__h_*, Python, bound to this context's VU); what is pure JavaScript stays here.
// Evaluated once per context, before the script's modules. Binary data crosses as base64.
(function (g) {
  "use strict";

  // ---- host errors: a host function that failed returns HOST_ERROR; throw it here as a JS Error,
  // so a script can catch it as in k6 (assay.load.js.runtime.JsContext._keep_error) -------------
  const HOST_ERROR = "\u0001assay:host-error\u0001";
  const hostMessage = g.__h_host_message;
  function checked(r) {
    if (r === HOST_ERROR) throw new Error(hostMessage());
    return r;
  }
  function wrap(f, arity) {
    // one wrapper per arity: `f.apply(undefined, arguments)` costs ~1 µs more per call in QuickJS
    switch (arity) {
      case 0: return () => checked(f());
      case 1: return (a) => checked(f(a));
      case 2: return (a, b) => checked(f(a, b));
      case 3: return (a, b, c) => checked(f(a, b, c));
      case 4: return (a, b, c, d) => checked(f(a, b, c, d));
      case 5: return (a, b, c, d, e) => checked(f(a, b, c, d, e));
      case 6: return (a, b, c, d, e, h) => checked(f(a, b, c, d, e, h));
      default: return (a, b, c, d, e, h, i) => checked(f(a, b, c, d, e, h, i));
    }
  }
  const arities = JSON.parse(g.__H_ARITY);
  g.__H_ARITY = undefined;
  for (const name of Object.keys(arities)) g[name] = wrap(g[name], arities[name]);

  // ---- module system (the bundle calls __define for each file, then __require the entry) -------
  const builtins = {};
  const defined = {};
  const loaded = {};
  g.__define = function (path, fn) { defined[path] = fn; };
  g.__require = function (spec) {
    if (spec in builtins) return builtins[spec];
    if (spec === "k6" || spec.startsWith("k6/")) {
      // k6 modules beyond k6 and k6/http are compiled when first imported (a context is cheaper to make)
      const src = __h_section(spec);
      if (src !== null) (0, eval)(src);
      if (spec in builtins) return builtins[spec];
    }
    if (spec in loaded) return loaded[spec].exports;
    const fn = defined[spec];
    if (!fn) throw new Error("module not found: " + spec);
    const module = { exports: {} };
    loaded[spec] = module;
    fn(module.exports, module);
    return module.exports;
  };
  g.__default = function (m) { return m && m.default !== undefined ? m.default : m; };
  g.__reexport = function (target, source) {
    for (const k of Object.keys(source)) if (k !== "default") target[k] = source[k];
  };
  g.require = function (spec) { return g.__require(spec); };

  // ---- base64 for ArrayBuffers (QuickJS has no atob/btoa) ----------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64I = {};
  for (let i = 0; i < B64.length; i++) B64I[B64[i]] = i;
  function bufToB64(buf) {
    const b = new Uint8Array(buf);
    let out = "";
    let i = 0;
    for (; i + 2 < b.length; i += 3) {
      const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < b.length) {
      const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : "=") + "=";
    }
    return out;
  }
  function b64ToBuf(s) {
    s = s.replace(/=+$/, "");
    const out = new Uint8Array(Math.floor((s.length * 3) / 4));
    let o = 0;
    for (let i = 0; i < s.length; i += 4) {
      const n = (B64I[s[i]] << 18) | (B64I[s[i + 1]] << 12) | ((B64I[s[i + 2]] || 0) << 6) | (B64I[s[i + 3]] || 0);
      out[o++] = (n >> 16) & 255;
      if (i + 2 < s.length) out[o++] = (n >> 8) & 255;
      if (i + 3 < s.length) out[o++] = n & 255;
    }
    return out.buffer.slice(0, o);
  }
  function isBinary(v) { return v instanceof ArrayBuffer || ArrayBuffer.isView(v); }
  function toB64(v) { return bufToB64(v instanceof ArrayBuffer ? v : v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)); }
  g.__bufToB64 = bufToB64;
  g.__b64ToBuf = b64ToBuf;

  // ---- console, globals ----------------------------------------------------------------------
  function fmt(args) {
    return Array.prototype.map.call(args, (a) => (typeof a === "string" ? a : (() => { try { return JSON.stringify(a); } catch (e) { return String(a); } })())).join(" ");
  }
  g.console = {
    log: function () { __h_log("info", fmt(arguments)); },
    info: function () { __h_log("info", fmt(arguments)); },
    debug: function () { __h_log("debug", fmt(arguments)); },
    warn: function () { __h_log("warning", fmt(arguments)); },
    error: function () { __h_log("error", fmt(arguments)); },
  };
  // import.meta of a bundled module (source.py rewrites it): its file URL, and resolve() as an import would
  g.__importMeta = function (file) {
    const dir = file.slice(0, file.lastIndexOf("/") + 1);
    return {
      url: "file://" + file,
      resolve: function (spec) {
        spec = String(spec);
        if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return spec;
        const parts = [];
        for (const p of ((spec.startsWith("/") ? "" : dir) + spec).split("/")) {
          if (p === "..") parts.pop();
          else if (p !== "." && p !== "") parts.push(p);
        }
        return "file:///" + parts.join("/");
      },
    };
  };
  // k6's global `crypto` (WebCrypto): the random parts; `subtle` is not run (k6/crypto has hashes and HMAC)
  g.crypto = {
    getRandomValues: function (array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeError("crypto.getRandomValues: expected an integer TypedArray");
      }
      if (array.byteLength > 65536) throw new Error("crypto.getRandomValues: at most 65536 bytes at a time");
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(new Uint8Array(b64ToBuf(__h_random_bytes(array.byteLength))));
      return array;
    },
    randomUUID: function () {
      const b = new Uint8Array(b64ToBuf(__h_random_bytes(16)));
      b[6] = (b[6] & 0x0f) | 0x40;  // version 4
      b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
      const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
      return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
    },
    get subtle() { throw new Error("crypto.subtle (WebCrypto) is not supported by assay; use k6/crypto for hashes and HMAC"); },
  };
  g.open = function (path, mode) {
    const r = __h_open(String(path), mode === "b" ? 1 : 0);
    return mode === "b" ? b64ToBuf(r) : r;
  };
  // __VU and __ITER read closure variables, so starting an iteration sets no global property
  let vuId = 0;
  let iterNo = 0;
  Object.defineProperty(g, "__VU", { get: () => vuId, set: (v) => { vuId = v; }, enumerable: true, configurable: true });
  Object.defineProperty(g, "__ITER", { get: () => iterNo, set: (v) => { iterNo = v; }, enumerable: true, configurable: true });
  g.__ENV = {};

  // ---- k6 ------------------------------------------------------------------------------------------
  function jsonOrNull(v) { return v === undefined || v === null ? null : JSON.stringify(v); }
  const k6 = {
    check: function (val, sets, tags) {
      // as k6: a predicate that throws records its check as failed, then the exception goes on
      // (the iteration's error unless the script catches it); later checks of the call are not run
      if (sets === null || typeof sets !== "object") throw new Error("no checks provided to `check`");
      const t = jsonOrNull(tags);
      let all = true;
      for (const name of Object.keys(sets)) {
        if (name.includes("::")) throw new Error("check name " + JSON.stringify(name) + " may not contain '::'");
        const p = sets[name];
        let ok;
        if (typeof p === "function") {
          if (p.constructor && p.constructor.name === "AsyncFunction") {
            throw new Error("the built-in check() does not support async functions as arguments, as in k6");
          }
          try { ok = !!p(val); } catch (e) { __h_check(name, 0, t); throw e; }
        } else ok = !!p;
        __h_check(name, ok ? 1 : 0, t);
        if (!ok) all = false;
      }
      return all;
    },
    group: function (name, fn) {
      if (typeof fn !== "function") throw new Error("group() requires a callback as a second argument");
      if (fn.constructor && fn.constructor.name === "AsyncFunction") {
        throw new Error("group() does not support async functions as arguments, as in k6 (its group tag would end at the first await)");
      }
      __h_group(String(name), 1);
      try { return fn(); } finally { __h_group(String(name), 0); }
    },
    sleep: function (s) { __h_sleep(Number(s)); },
    fail: function (msg) { throw new Error(msg === undefined ? "fail" : String(msg)); },
    randomSeed: function (seed) {
      let x = (Number(seed) >>> 0) || 1;
      Math.random = function () { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
    },
  };
  builtins["k6"] = k6;

  // ---- k6/http ---------------------------------------------------------------------------------------
  let nextRes = 0;
  const GJSON_UNSUPPORTED = /#\(|[*?|@\\]|^[[{]/;
  function gjson(data, path) {
    // k6's selector (gjson): dotted keys, numeric indexes, `#` for an array's length, `#.key`
    if (!path) return data;
    if (GJSON_UNSUPPORTED.test(path)) {
      throw new Error("res.json(" + JSON.stringify(path) + "): GJSON queries #(...), wildcards, modifiers and multipaths are not evaluated by assay; " +
        "use dotted keys, indexes, # and #.key, or filter res.json() in JavaScript");
    }
    const parts = path.split(".");
    let cur = data;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (cur === undefined || cur === null) return undefined;
      if (p === "#" && Array.isArray(cur)) {
        const rest = parts.slice(i + 1).join(".");
        if (!rest) return cur.length;
        return cur.map((x) => gjson(x, rest));
      }
      cur = Array.isArray(cur) && /^\d+$/.test(p) ? cur[Number(p)] : cur[p];
    }
    return cur;
  }
  class Response {
    constructor(id, status) { this._id = id; this.status = status; }
    _f(name) {
      const key = "_" + name;
      if (!(key in this)) this[key] = __h_res(this._id, name);
      return this[key];
    }
    get body() {
      const kind = this._f("kind");
      if (kind === "none") return null;
      const b = this._f("body");
      return kind === "binary" ? b64ToBuf(b) : b;
    }
    get headers() { return JSON.parse(this._f("headers")); }
    get cookies() { return JSON.parse(this._f("cookies")); }
    get timings() { return JSON.parse(this._f("timings")); }
    get error() { return this._f("error"); }
    get error_code() { return this._f("error_code"); }
    get url() { return this._f("url"); }
    get proto() { return "HTTP/1.1"; }
    get status_text() { return this._f("status_text"); }
    get remote_ip() { return this._f("remote_ip"); }
    get remote_port() { return this._f("remote_port"); }
    get tls_version() { return ""; }
    get request() { return JSON.parse(this._f("request")); }
    json(selector) {
      const body = this.body;
      if (body === null || body === undefined) throw new Error("cannot parse the response body as JSON: the body is empty (discardResponseBodies or responseType 'none'?)");
      const text = typeof body === "string" ? body : String.fromCharCode.apply(null, new Uint8Array(body));
      if (selector === undefined) return JSON.parse(text);
      let data;
      try { data = JSON.parse(text); } catch (e) { return undefined; }  // k6: a selector on a body that is not JSON
      return gjson(data, String(selector));
    }
    html() { throw new Error("res.html() is not supported by assay (k6/html); read res.body with a regular expression"); }
    clickLink() { throw new Error("res.clickLink() is not supported by assay (k6/html)"); }
    submitForm() { throw new Error("res.submitForm() is not supported by assay (k6/html)"); }
  }

  class FileData {
    constructor(data, filename, contentType) {
      this.data = data;
      this.filename = filename;
      this.content_type = contentType || "application/octet-stream";
    }
  }

  class CookieJar {
    constructor(id) { this._jar = id === undefined ? __h_cookie("new", 0, "", "", "", "") : id; }
    cookiesForURL(url) { return JSON.parse(__h_cookie("get", this._jar, String(url), "", "", "")); }
    set(url, name, value, opts) { __h_cookie("set", this._jar, String(url), String(name), String(value), jsonOrNull(opts)); }
    clear(url) { __h_cookie("clear", this._jar, String(url), "", "", ""); }
    delete(url, name) { __h_cookie("delete", this._jar, String(url), String(name), "", ""); }
  }
  let vuJar = null;

  function encodeBody(body) {
    // -> [kind, payload]: "" none, "s" text, "b" base64 bytes, "f" form JSON, "m" multipart JSON
    if (body === undefined || body === null) return ["", ""];
    if (typeof body === "string") return ["s", body];
    if (isBinary(body)) return ["b", toB64(body)];
    if (typeof body === "object") {
      let multipart = false;
      const fields = [];
      for (const k of Object.keys(body)) {
        const v = body[k];
        if (v instanceof FileData) {
          multipart = true;
          const d = v.data;
          fields.push([k, { file: 1, b64: isBinary(d) ? toB64(d) : null, text: isBinary(d) ? null : String(d), filename: v.filename || k, content_type: v.content_type }]);
        } else fields.push([k, String(v)]);
      }
      return [multipart ? "m" : "f", JSON.stringify(fields)];
    }
    return ["s", String(body)];
  }
  function encodeParams(params) {
    if (!params) return null;
    const p = {};
    for (const k of Object.keys(params)) {
      const v = params[k];
      if (k === "jar") p.jar = v === null ? -1 : v._jar;
      else if (k === "responseCallback") p.responseCallback = v === null ? [] : v._ranges;
      else p[k] = v;
    }
    return JSON.stringify(p);
  }
  function request(method, url, body, params) {
    if (url && typeof url === "object" && url.__url) {
      params = Object.assign({}, params || {});
      params.tags = Object.assign({ name: url.name }, params.tags || {});
      url = url.url;
    }
    const b = encodeBody(body);
    const status = __h_request(String(method).toUpperCase(), String(url), b[0], b[1], encodeParams(params));
    return new Response(nextRes++, status);
  }
  function batch(reqs) {
    const isArray = Array.isArray(reqs);
    const keys = Object.keys(reqs);
    const list = keys.map((k) => {
      let r = reqs[k];
      if (typeof r === "string") r = ["GET", r];
      let method, url, body, params;
      if (Array.isArray(r)) { method = r[0]; url = r[1]; body = r[2]; params = r[3]; }
      else { method = r.method || "GET"; url = r.url; body = r.body; params = r.params; }
      if (url && typeof url === "object" && url.__url) url = url.url;
      const b = encodeBody(body);
      return [String(method).toUpperCase(), String(url), b[0], b[1], encodeParams(params)];
    });
    const statuses = JSON.parse(__h_batch(JSON.stringify(list)));
    const out = isArray ? [] : {};
    keys.forEach((k, i) => { out[k] = new Response(nextRes++, statuses[i]); });
    return out;
  }
  // http.get(url) without params, once the VU runs: the URL goes straight to the task driving this
  // VU (a greenlet switch, no Python frame), which sends it and switches back with the status
  // (assay.load.js.runtime.JsContext.bind_fast). Null in the init context, with
  // noConnectionReuse and after setResponseCallback: those requests take the general way.
  let fastGet = null;
  let fastBlocked = false;
  g.__bindFast = function () { if (!fastBlocked) fastGet = g.__h_fast; };
  const http = {
    get: function (url, params) {
      if (fastGet === null || params !== undefined || typeof url !== "string") return request("GET", url, null, params);
      const status = fastGet(url);  // first: a request that throws takes no response index
      return new Response(nextRes++, status);
    },
    head: (url, params) => request("HEAD", url, null, params),
    post: (url, body, params) => request("POST", url, body, params),
    put: (url, body, params) => request("PUT", url, body, params),
    patch: (url, body, params) => request("PATCH", url, body, params),
    del: (url, body, params) => request("DELETE", url, body, params),
    options: (url, body, params) => request("OPTIONS", url, body, params),
    request: (method, url, body, params) => request(method, url, body, params),
    batch: batch,
    file: (data, filename, contentType) => new FileData(data, filename, contentType),
    cookieJar: () => { if (vuJar === null) vuJar = new CookieJar(0); return vuJar; },
    CookieJar: CookieJar,
    expectedStatuses: function () {
      const ranges = [];
      for (const a of arguments) {
        if (typeof a === "number") ranges.push([a, a]);
        else if (a && typeof a === "object") ranges.push([Number(a.min), Number(a.max)]);
        else throw new Error("expectedStatuses: expected status codes or {min, max}, got " + a);
      }
      return { _ranges: ranges };
    },
    setResponseCallback: (cb) => { fastBlocked = true; fastGet = null; __h_expected(JSON.stringify(cb === null ? [] : cb._ranges)); },
    url: function (strings) {
      let s = strings[0];
      let name = strings[0];
      for (let i = 1; i < arguments.length; i++) { s += String(arguments[i]) + strings[i]; name += "${}" + strings[i]; }
      return { __url: true, url: s, name: name, toString() { return s; } };
    },
    TLS_1_0: "tls1.0", TLS_1_1: "tls1.1", TLS_1_2: "tls1.2", TLS_1_3: "tls1.3",
    OCSP_STATUS_GOOD: "good", OCSP_STATUS_REVOKED: "revoked", OCSP_STATUS_UNKNOWN: "unknown",
  };
  builtins["k6/http"] = http;

  // ---- timers (inside WebSocket sessions and event loops) ------------------------------------------
  // A k6 VU has an event loop per iteration; here timers run while a WebSocket session is open,
  // or when the iteration function returns (drained before the iteration counts as done).
  let timerSeq = 1;
  const timers = new Map();
  let maybePending = false;  // a timer or socket was ever added: the iteration's end checks for them
  function addTimer(fn, ms, repeat, args) {
    const id = timerSeq++;
    maybePending = true;
    timers.set(id, { fn: fn, at: __h_now() + Math.max(0, Number(ms) || 0), every: repeat ? Math.max(1, Number(ms) || 0) : 0, args: args, owner: currentOwner });
    return id;
  }
  let currentOwner = null;
  g.__timers = {
    next: function (owner) {
      let best = null;
      for (const [id, t] of timers) if (t.owner === owner && (best === null || t.at < best.at)) best = Object.assign({ id: id }, t);
      return best;
    },
    fire: function (id) {
      const t = timers.get(id);
      if (!t) return;
      if (t.every) t.at = __h_now() + t.every; else timers.delete(id);
      const prev = currentOwner;
      currentOwner = t.owner;
      try { t.fn.apply(null, t.args); } finally { currentOwner = prev; }
    },
    clearOwner: function (owner) { for (const [id, t] of timers) if (t.owner === owner) timers.delete(id); },
    setOwner: function (o) { const prev = currentOwner; currentOwner = o; return prev; },
    count: function (owner) { let n = 0; for (const t of timers.values()) if (t.owner === owner) n++; return n; },
  };
  const timerApi = {
    setTimeout: function (fn, ms) { return addTimer(fn, ms, false, Array.prototype.slice.call(arguments, 2)); },
    setInterval: function (fn, ms) { return addTimer(fn, ms, true, Array.prototype.slice.call(arguments, 2)); },
    clearTimeout: (id) => { timers.delete(id); },
    clearInterval: (id) => { timers.delete(id); },
  };
  Object.assign(g, timerApi);
  builtins["k6/timers"] = timerApi;

  // ---- what the lazily compiled modules share ----------------------------------------------------------
  const pendingSockets = [];
  const K = {
    builtins: builtins, jsonOrNull: jsonOrNull, isBinary: isBinary, toB64: toB64, b64ToBuf: b64ToBuf, bufToB64: bufToB64,
    timerApi: timerApi, pendingSockets: pendingSockets, socketLoop: null,
    newResponse: (status) => new Response(nextRes++, status),
    skipResponse: () => { nextRes++; },
    markPending: () => { maybePending = true; },
  };
  Object.defineProperty(g, "__k6", { value: K });
  // Runs after the iteration function: the VU's timers (and, with k6/experimental/websockets,
  // its sockets) until nothing is left, as k6's per-iteration event loop.
  g.__eventLoop = function () {
    if (pendingSockets.length === 0 && timers.size === 0) return;
    if (K.socketLoop !== null) return K.socketLoop();
    for (;;) {
      const t = __timers.next(null);
      if (t === null) return;
      const wait = t.at - __h_now();
      if (wait > 0) __h_sleep(wait / 1000);
      __timers.fire(t.id);
    }
  };

  // ---- the iteration ----------------------------------------------------------------------------------
  let data;
  let dataSet = false;
  g.__setData = function (json) { data = json === null ? undefined : JSON.parse(json); dataSet = true; };
  g.__run = function (name, vu, iter) {
    // one iteration of exports[name]; drains timers and WebSockets it left, as k6's event loop does
    vuId = vu;
    iterNo = iter;
    nextRes = 0;
    const fn = __main[name];
    const r = fn(data);
    g.__eventLoop();
    if (r && typeof r.then === "function") { r.then(undefined, rejected); return r; }
    return undefined;
  };
  g.__runner = function (name) {
    // __run with the export and its name bound once per VU: the hot path converts no string,
    // looks up no export, and skips the event loop when nothing is pending
    const fn = __main[name];
    return function (vu, iter) {
      vuId = vu;
      iterNo = iter;
      nextRes = 0;
      const r = fn(data);
      if (maybePending) {
        if (pendingSockets.length !== 0 || timers.size !== 0) g.__eventLoop();
        else maybePending = false;
      }
      if (r && typeof r.then === "function") { r.then(undefined, rejected); return r; }
      return undefined;
    };
  };
  // An async iteration's rejected promise is its error, reported as k6 reports it ("Uncaught (in
  // promise) ..."), from the promise job that runs once the host drains the context's jobs.
  function rejected(e) {
    if (e instanceof Error && String(e.message).startsWith("__k6_abort__")) return;  // exec.test.abort()
    __h_rejected(e instanceof Error ? String(e) + "\n" + (e.stack || "") : String(e));
  }
  let pendingCall = null;
  g.__call = function (name, argJson) {
    // setup() / teardown(data) / handleSummary(data): the result as JSON (undefined -> null); an
    // async one returns "pending" and its result is read with __callResult once its jobs ran
    nextRes = 0;
    const arg = argJson === null ? undefined : JSON.parse(argJson);
    const r = __main[name](arg);
    g.__eventLoop();
    if (r && typeof r.then === "function") {
      const call = pendingCall = { name: name, done: false, value: undefined, error: undefined, failed: false };
      r.then((v) => { call.done = true; call.value = v; }, (e) => { call.done = true; call.failed = true; call.error = e; });
      return "pending";
    }
    return r === undefined ? null : JSON.stringify(r);
  };
  g.__callResult = function () {
    const call = pendingCall;
    pendingCall = null;
    if (!call.done) throw new Error(call.name + "() returned a promise that never settled (nothing left to wait for)");
    if (call.failed) throw call.error;
    return call.value === undefined ? null : JSON.stringify(call.value);
  };
  g.__options = function () { return JSON.stringify(__main.options === undefined ? {} : __main.options); };
  g.__exportedFunctions = function () {
    return JSON.stringify(Object.keys(__main).filter((k) => typeof __main[k] === "function"));
  };
})(globalThis);


// ---- k6 modules compiled on first import (assay.load.js.runtime splits them off at //@section) ----
//@section k6/execution
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/execution ----------------------------------------------------------------------------------
  function execField(name) { return JSON.parse(__h_exec(name)); }
  const tagsProxy = new Proxy({}, {
    get: (t, k) => execField("vu.tags")[k],
    set: (t, k, v) => { __h_tag(String(k), String(v)); return true; },
    ownKeys: () => Object.keys(execField("vu.tags")),
    getOwnPropertyDescriptor: (t, k) => ({ value: execField("vu.tags")[k], enumerable: true, configurable: true }),
  });
  const execution = {
    vu: {
      get idInInstance() { return execField("vu.idInInstance"); },
      get idInTest() { return execField("vu.idInTest"); },
      get iterationInInstance() { return execField("vu.iterationInInstance"); },
      get iterationInScenario() { return execField("vu.iterationInScenario"); },
      get tags() { return tagsProxy; },
      get metrics() { return { get tags() { return tagsProxy; }, metadata: {} }; },
    },
    scenario: {
      get name() { return execField("scenario.name"); },
      get executor() { return execField("scenario.executor"); },
      get startTime() { return execField("scenario.startTime"); },
      get progress() { return execField("scenario.progress"); },
      get iterationInInstance() { return execField("scenario.iterationInInstance"); },
      get iterationInTest() { return execField("scenario.iterationInTest"); },
    },
    instance: {
      get iterationsCompleted() { return execField("instance.iterationsCompleted"); },
      get iterationsInterrupted() { return execField("instance.iterationsInterrupted"); },
      get vusActive() { return execField("instance.vusActive"); },
      get vusInitialized() { return execField("instance.vusInitialized"); },
      get currentTestRunDuration() { return execField("instance.currentTestRunDuration"); },
    },
    test: {
      abort: function (reason) { __h_abort(reason === undefined ? "" : String(reason)); throw new Error("__k6_abort__" + (reason || "")); },
      get options() { return execField("test.options"); },
    },
  };
  builtins["k6/execution"] = execution;
})(globalThis, globalThis.__k6);
//@end
//@section k6/metrics
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/metrics --------------------------------------------------------------------------------
  class Metric {
    constructor(kind, name, isTime) {
      this.name = String(name);
      this._kind = kind;
      __h_metric(this.name, kind, isTime ? 1 : 0);
    }
    add(value, tags) {
      if (typeof value === "boolean") value = value ? 1 : 0;
      __h_metric_add(this.name, Number(value), jsonOrNull(tags));
      return true;
    }
  }
  builtins["k6/metrics"] = {
    Counter: class Counter extends Metric { constructor(n, t) { super("counter", n, t); } },
    Gauge: class Gauge extends Metric { constructor(n, t) { super("gauge", n, t); } },
    Rate: class Rate extends Metric { constructor(n, t) { super("rate", n, t); } },
    Trend: class Trend extends Metric { constructor(n, t) { super("trend", n, t); } },
  };
})(globalThis, globalThis.__k6);
//@end
//@section k6/data
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/data -----------------------------------------------------------------------------------
  class SharedArray {
    constructor(name, fn) {
      if (typeof fn !== "function") throw new Error("SharedArray needs a name and a function returning an array");
      let json = __h_shared(String(name));
      if (json === null) {
        const data = fn();
        if (!Array.isArray(data)) throw new Error("SharedArray " + name + ": the function must return an array");
        json = JSON.stringify(data);
        __h_shared_put(String(name), json);
      }
      const items = Object.freeze(JSON.parse(json).map((x) => (x && typeof x === "object" ? Object.freeze(x) : x)));
      return items;
    }
  }
  builtins["k6/data"] = { SharedArray: SharedArray };
})(globalThis, globalThis.__k6);
//@end
//@section k6/encoding k6/crypto
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/encoding, k6/crypto --------------------------------------------------------------------
  function binArg(v) { return isBinary(v) ? [toB64(v), 1] : [String(v), 0]; }
  builtins["k6/encoding"] = {
    b64encode: (input, encoding) => { const a = binArg(input); return __h_b64("enc", a[0], a[1], encoding || "std", ""); },
    b64decode: (input, encoding, format) => {
      const r = __h_b64("dec", String(input), 0, encoding || "std", format || "");
      return format === "s" ? r : b64ToBuf(r);
    },
  };
  function digest(alg, data, enc, key) {
    const d = binArg(data);
    const k = key === undefined ? ["", 0] : binArg(key);
    const r = __h_hash(alg, d[0], d[1], k[0], k[1], key === undefined ? 0 : 1, enc || "binary");
    return !enc || enc === "binary" ? b64ToBuf(r) : r;
  }
  class Hasher {
    constructor(alg, key) { this.alg = alg; this.key = key; this.parts = []; }
    update(data) { this.parts.push(isBinary(data) ? new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer) : data); }
    digest(enc) {
      let data = "";
      if (this.parts.some((p) => typeof p !== "string")) {
        const arrays = this.parts.map((p) => (typeof p === "string" ? b64ToBuf(__h_b64("enc", p, 0, "std", "")) : p)).map((p) => new Uint8Array(p));
        const total = arrays.reduce((n, a) => n + a.length, 0);
        const all = new Uint8Array(total);
        let o = 0;
        for (const a of arrays) { all.set(a, o); o += a.length; }
        data = all.buffer;
      } else data = this.parts.join("");
      return digest(this.alg, data, enc, this.key);
    }
  }
  const crypto = { hmac: (alg, secret, data, enc) => digest(alg, data, enc, secret) };
  for (const alg of ["md5", "sha1", "sha256", "sha384", "sha512", "sha512_224", "sha512_256"]) {
    crypto[alg] = (data, enc) => digest(alg, data, enc);
  }
  crypto.createHash = (alg) => new Hasher(alg);
  crypto.createHMAC = (alg, secret) => new Hasher(alg, secret);
  crypto.randomBytes = (n) => b64ToBuf(__h_random_bytes(Number(n)));
  builtins["k6/crypto"] = crypto;
})(globalThis, globalThis.__k6);
//@end
//@section k6/ws
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/ws ---------------------------------------------------------------------------------------
  class Socket {
    constructor(id) { this._id = id; this._handlers = {}; this._closed = false; this._owner = { socket: id }; }
    on(event, fn) { (this._handlers[event] = this._handlers[event] || []).push(fn); }
    _emit(event, arg, arg2) { for (const fn of this._handlers[event] || []) fn.call(this, arg, arg2); }
    send(data) { if (!this._closed) __h_ws_send(this._id, isBinary(data) ? toB64(data) : String(data), isBinary(data) ? 1 : 0); }
    sendBinary(data) { if (!this._closed) __h_ws_send(this._id, toB64(data), 1); }
    ping() { if (!this._closed) __h_ws_ping(this._id); }
    close(code) { if (!this._closed) { __h_ws_close(this._id, Number(code) || 1000); } }
    setTimeout(fn, ms) { const prev = __timers.setOwner(this._owner); try { return timerApi.setTimeout(fn, ms); } finally { __timers.setOwner(prev); } }
    setInterval(fn, ms) { const prev = __timers.setOwner(this._owner); try { return timerApi.setInterval(fn, ms); } finally { __timers.setOwner(prev); } }
  }
  function runSocket(sock) {
    // the session's event loop: timers and messages until the socket closes
    const prev = __timers.setOwner(sock._owner);
    try {
      sock._emit("open");
      while (!sock._closed) {
        const t = __timers.next(sock._owner);
        const wait = t === null ? -1 : Math.max(0, t.at - __h_now());
        const ev = JSON.parse(__h_ws_next(sock._id, wait));
        if (ev.type === "timer") { if (t !== null) __timers.fire(t.id); }
        else if (ev.type === "message") sock._emit("message", ev.data);
        else if (ev.type === "binaryMessage") sock._emit("binaryMessage", b64ToBuf(ev.data));
        else if (ev.type === "pong") sock._emit("pong");
        else if (ev.type === "error") sock._emit("error", { error: () => ev.error, toString: () => ev.error });
        else if (ev.type === "close") { sock._closed = true; sock._emit("close", ev.code); }
      }
    } finally {
      __timers.clearOwner(sock._owner);
      __timers.setOwner(prev);
    }
  }
  builtins["k6/ws"] = {
    connect: function (url, params, callback) {
      if (typeof params === "function") { callback = params; params = null; }
      const r = JSON.parse(__h_ws_open(String(url), jsonOrNull(params)));
      const res = newResponse(r.status);
      if (r.id < 0) return res;
      const sock = new Socket(r.id);
      if (callback) callback(sock);
      runSocket(sock);
      return res;
    },
  };
})(globalThis, globalThis.__k6);
//@end
//@section k6/experimental/websockets
(function (g, K) {
  "use strict";
  const { builtins, jsonOrNull, isBinary, toB64, b64ToBuf, bufToB64, timerApi, pendingSockets, newResponse, skipResponse } = K;
  // ---- k6/experimental/websockets (the common parts: on* handlers, addEventListener, send, close) --
  const OPEN = 1, CLOSING = 2, CLOSED = 3;
  class WebSocket {
    constructor(url, protocols, params) {
      this.url = String(url);
      this.readyState = 0;
      this.binaryType = "blob";
      this._listeners = {};
      this._params = params || null;
      this._owner = { websocket: this.url };
      this.onopen = this.onmessage = this.onclose = this.onerror = this.onping = this.onpong = null;
      pendingSockets.push(this);
      K.markPending();
    }
    addEventListener(type, fn) { (this._listeners[type] = this._listeners[type] || []).push(fn); }
    _emit(type, ev) {
      const h = this["on" + type];
      if (typeof h === "function") h.call(this, ev);
      for (const fn of this._listeners[type] || []) fn.call(this, ev);
    }
    send(data) { if (this.readyState === OPEN) __h_ws_send(this._id, isBinary(data) ? toB64(data) : String(data), isBinary(data) ? 1 : 0); }
    ping() { if (this.readyState === OPEN) __h_ws_ping(this._id); }
    close(code, reason) { if (this.readyState === OPEN) { this.readyState = CLOSING; __h_ws_close(this._id, Number(code) || 1000); } }
  }
  // Runs after the iteration function (and after each timer callback): opens the sockets it
  // created and dispatches their events and the VU's timers until all are closed and no timer is left.
  K.socketLoop = function () {
    const open = [];
    for (;;) {
      while (pendingSockets.length) {
        const ws = pendingSockets.shift();
        const r = JSON.parse(__h_ws_open(ws.url, jsonOrNull(ws._params)));
        skipResponse();
        if (r.id < 0) { ws.readyState = CLOSED; ws._emit("error", { error: r.error || "connect failed" }); ws._emit("close", { code: 1006 }); continue; }
        ws._id = r.id;
        ws.readyState = OPEN;
        open.push(ws);
        const prev = __timers.setOwner(null);
        try { ws._emit("open", { type: "open" }); } finally { __timers.setOwner(prev); }
      }
      const live = open.filter((w) => w.readyState !== CLOSED);
      const t = __timers.next(null);
      if (!live.length && t === null) return;
      const wait = t === null ? -1 : Math.max(0, t.at - __h_now());
      const ev = JSON.parse(__h_ws_wait(JSON.stringify(live.map((w) => w._id)), wait));
      if (ev.type === "timer") { if (t !== null) __timers.fire(t.id); continue; }
      const ws = live.find((w) => w._id === ev.id);
      if (!ws) continue;
      if (ev.type === "message") ws._emit("message", { data: ev.data, type: "message" });
      else if (ev.type === "binaryMessage") ws._emit("message", { data: b64ToBuf(ev.data), type: "message" });
      else if (ev.type === "pong") ws._emit("pong", {});
      else if (ev.type === "error") ws._emit("error", { error: ev.error });
      else if (ev.type === "close") { ws.readyState = CLOSED; ws._emit("close", { code: ev.code }); }
    }
  };
  builtins["k6/experimental/websockets"] = { WebSocket: WebSocket };
})(globalThis, globalThis.__k6);
//@end
