import { useEffect, useRef, useState } from "react";
import { useSession } from "../auth/session";
import type { ApiClient } from "./client";

/**
 * One event of GET /api/v1/events: something of the profile changed.
 * tags name the cached data it invalidates (runs, source:<id>,
 * pipeline:<id>, dashboard:<id>, metrics, …). A topic of "reset" means
 * events were missed: reload everything shown.
 */
export interface PuodEvent {
  id: string;
  topic: string;
  time: string;
  tags: string[];
  payload: unknown;
}

export type EventStatus = "connecting" | "open" | "closed";

/** One dispatched Server-Sent Event. */
export interface SseMessage {
  event: string;
  data: string;
  id: string;
}

/**
 * The Server-Sent Events parser of the HTML standard, fed decoded text in
 * chunks that may end anywhere (inside a line, between CR and LF). The
 * last event id survives blocks without data, as in the standard: a block
 * with only `id:` moves the position without dispatching anything.
 */
export class SseParser {
  /** The last event id, to send as Last-Event-ID when reconnecting. */
  lastEventId = "";
  /** The reconnection time the server asked for (retry:), if any. */
  retry: number | null = null;

  private partial = "";
  private skipLF = false;
  private data = "";
  private event = "";
  private idBuffer = "";

  constructor(
    private readonly onMessage: (m: SseMessage) => void,
    private readonly onComment?: (text: string) => void,
  ) {}

  /**
   * Continues from a previous connection's position: without it, the
   * first block of the new stream (retry: alone) would clear the id.
   */
  resume(lastEventId: string) {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  push(chunk: string) {
    if (this.skipLF && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.skipLF = false;
    const buf = this.partial + chunk;
    const eol = /\r\n|\r|\n/g;
    let pos = 0;
    for (let m = eol.exec(buf); m; m = eol.exec(buf)) {
      // A CR that ends the buffer may be the first half of a CRLF.
      if (m[0] === "\r" && m.index === buf.length - 1) this.skipLF = true;
      this.line(buf.slice(pos, m.index));
      pos = m.index + m[0].length;
    }
    this.partial = buf.slice(pos);
  }

  private line(line: string) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) {
      this.onComment?.(line.slice(1).replace(/^ /, ""));
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data += value + "\n";
        break;
      case "id":
        if (!value.includes("\0")) this.idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = parseInt(value, 10);
        break;
      // Other fields are ignored.
    }
  }

  private dispatch() {
    this.lastEventId = this.idBuffer;
    if (this.data === "") {
      this.event = "";
      return;
    }
    const msg = { event: this.event || "message", data: this.data.slice(0, -1), id: this.lastEventId };
    this.data = "";
    this.event = "";
    this.onMessage(msg);
  }
}

export interface SubscribeOptions {
  /** Default /api/v1/events on the page's origin. */
  url?: string;
  /** The access token, read at every (re)connection. */
  token: () => string | null;
  /** The profile sent as X-PUOD-Profile, read at every (re)connection. */
  profile?: () => string | null;
  onEvent: (e: PuodEvent) => void;
  onStatus?: (s: EventStatus) => void;
  /**
   * Called when the server answers 401 (the access token expired): renew
   * it and resolve true to reconnect at once, false to give up.
   */
  onUnauthorized?: () => Promise<boolean>;
  fetch?: typeof fetch;
  /** Upper bound of the delay between attempts while the server is unreachable (default 30 s). */
  maxDelayMs?: number;
}

const DEFAULT_RETRY_MS = 3000;

/**
 * Subscribes to the server's events over fetch streaming (EventSource
 * cannot send the Authorization header) and keeps reconnecting with the
 * last event id, so missed events are replayed (or a reset arrives).
 * Attempts that fail back off from the server's retry interval up to
 * maxDelayMs. Returns the function that ends the subscription.
 */
export function subscribeEvents(opts: SubscribeOptions): () => void {
  const url = opts.url ?? "/api/v1/events";
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
  const maxDelay = opts.maxDelayMs ?? 30_000;
  let stopped = false;
  let abort: AbortController | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastId = "";
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  let status: EventStatus | null = null;

  const setStatus = (s: EventStatus) => {
    if (s === status) return;
    status = s;
    opts.onStatus?.(s);
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    setStatus("connecting");
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
  };

  // After a failure: the server's retry interval, doubling with each
  // further failure, with jitter so many tabs do not come back at once.
  const backoff = () => {
    failures++;
    const base = Math.min(maxDelay, retryMs * 2 ** Math.min(failures - 1, 10));
    schedule(Math.round(base * (0.8 + Math.random() * 0.4)));
  };

  const deliver = (m: SseMessage) => {
    let e: PuodEvent;
    try {
      const d = JSON.parse(m.data) as Partial<PuodEvent>;
      e = { id: d.id ?? m.id, topic: d.topic ?? m.event, time: d.time ?? "", tags: Array.isArray(d.tags) ? d.tags : [], payload: d.payload ?? null };
    } catch {
      return; // not ours: every event of the API carries JSON
    }
    if (m.event === "reset") e.topic = "reset";
    try {
      opts.onEvent(e);
    } catch (err) {
      // A failing handler must not end the stream for the others.
      console.error("event handler failed", err);
    }
  };

  async function connect() {
    if (stopped) return;
    setStatus("connecting");
    abort = new AbortController();
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    const token = opts.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    const profile = opts.profile?.();
    if (profile) headers["X-PUOD-Profile"] = profile;
    if (lastId) headers["Last-Event-ID"] = lastId;
    let res: Response;
    try {
      res = await doFetch(url, { headers, signal: abort.signal, credentials: "same-origin", cache: "no-store" });
    } catch {
      if (!stopped) backoff();
      return;
    }
    if (stopped) return void res.body?.cancel().catch(() => {});
    if (res.status === 401 && opts.onUnauthorized) {
      void res.body?.cancel().catch(() => {});
      const renewed = await opts.onUnauthorized().catch(() => false);
      if (stopped) return;
      if (!renewed) return end();
      // Renewed: at once the first time, backing off if it keeps failing.
      if (failures > 0) return backoff();
      failures++;
      return schedule(0);
    }
    if (!res.ok || !res.body || !(res.headers.get("Content-Type") ?? "").startsWith("text/event-stream")) {
      void res.body?.cancel().catch(() => {});
      return backoff();
    }
    const parser = new SseParser(deliver);
    parser.resume(lastId);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    failures = 0;
    setStatus("open");
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
        lastId = parser.lastEventId;
        if (parser.retry !== null) retryMs = parser.retry;
      }
    } catch {
      // The connection broke (or we aborted it).
    }
    lastId = parser.lastEventId;
    if (!stopped) schedule(retryMs);
  }

  function end() {
    stopped = true;
    if (timer) clearTimeout(timer);
    abort?.abort();
    setStatus("closed");
  }

  void connect();
  return end;
}

/**
 * The session's access token. ApiClient keeps it private so page code
 * does not pass it around; the event stream is the one place that must
 * send it itself, since it streams with fetch outside ApiClient.send.
 */
function accessToken(client: ApiClient): string | null {
  return client.accessToken;
}

/**
 * One stream per session, shared by every component listening: a user
 * may hold only a few streams at once (8), and a dashboard has many cards.
 */
interface Shared {
  epoch: number;
  listeners: Set<(e: PuodEvent) => void>;
  statusListeners: Set<(s: EventStatus) => void>;
  status: EventStatus;
  stop: () => void;
}

const shared = new WeakMap<ApiClient, Shared>();

function startShared(client: ApiClient, s: Shared) {
  s.stop = subscribeEvents({
    token: () => accessToken(client),
    profile: () => client.profile,
    onEvent: (e) => s.listeners.forEach((l) => l(e)),
    onStatus: (st) => {
      s.status = st;
      s.statusListeners.forEach((l) => l(st));
    },
    // Any request that meets a 401 renews the tokens once.
    onUnauthorized: () =>
      client.get("/api/v1/auth/me").then(
        () => true,
        () => false,
      ),
  });
}

function listen(client: ApiClient, epoch: number, onEvent: (e: PuodEvent) => void, onStatus: (s: EventStatus) => void): () => void {
  let s = shared.get(client);
  if (!s) {
    s = { epoch, listeners: new Set(), statusListeners: new Set(), status: "connecting", stop: () => {} };
    shared.set(client, s);
    startShared(client, s);
  } else if (s.epoch !== epoch) {
    // Another profile: the old stream's position means nothing there.
    s.stop();
    s.epoch = epoch;
    startShared(client, s);
  }
  const entry = s;
  entry.listeners.add(onEvent);
  entry.statusListeners.add(onStatus);
  onStatus(entry.status);
  return () => {
    entry.listeners.delete(onEvent);
    entry.statusListeners.delete(onStatus);
    if (entry.listeners.size === 0) {
      entry.stop();
      shared.delete(client);
    }
  };
}

/**
 * Calls onEvent with every event of the session's profile while the
 * component is mounted and the user logged in; returns the stream's
 * status. The latest onEvent is used, so it need not be memoized. Every
 * component shares one stream.
 */
export function useEvents(onEvent: (e: PuodEvent) => void): EventStatus {
  const { client, status, epoch } = useSession();
  const handler = useRef(onEvent);
  useEffect(() => {
    handler.current = onEvent;
  }, [onEvent]);
  const [state, setState] = useState<EventStatus>("closed");
  useEffect(() => {
    if (status !== "authenticated") {
      setState("closed");
      return;
    }
    return listen(client, epoch, (e) => handler.current(e), setState);
  }, [client, status, epoch]);
  return state;
}
