import { afterEach, describe, expect, it, vi } from "vitest";
import { SseParser, subscribeEvents, type EventStatus, type PuodEvent, type SseMessage } from "./events";

function parse(chunks: string[], resume = "") {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const p = new SseParser(
    (m) => messages.push(m),
    (c) => comments.push(c),
  );
  p.resume(resume);
  for (const c of chunks) p.push(c);
  return { messages, comments, parser: p };
}

const stream =
  "retry: 3000\n\n" +
  "id: pos-0\n\n" +
  ": ping\n\n" +
  'id: e1\nevent: run.changed\ndata: {"id":"e1","topic":"run.changed","tags":["runs","source:S"],"payload":{"state":"failed"}}\n\n' +
  "event: note\ndata: line one\ndata: line two\ndata\n\n" +
  "data:no space\ndata:  two spaces\n\n";

const expected: SseMessage[] = [
  { event: "run.changed", data: '{"id":"e1","topic":"run.changed","tags":["runs","source:S"],"payload":{"state":"failed"}}', id: "e1" },
  { event: "note", data: "line one\nline two\n", id: "e1" },
  { event: "message", data: "no space\n two spaces", id: "e1" },
];

describe("SseParser", () => {
  it.each([
    ["whole", [stream]],
    ["one character at a time", [...stream]],
    ["chunks of 7", stream.match(/[\s\S]{1,7}/g) ?? []],
    ["CRLF line ends", [stream.replace(/\n/g, "\r\n")]],
    ["CRLF split between chunks", stream.replace(/\n/g, "\r\n").split(/(?<=\r)/)],
    ["CR line ends, one at a time", [...stream.replace(/\n/g, "\r")]],
  ])("parses a stream given %s", (_, chunks) => {
    const { messages, comments, parser } = parse(chunks);
    expect(messages).toEqual(expected);
    expect(comments).toEqual(["ping"]);
    expect(parser.retry).toBe(3000);
    expect(parser.lastEventId).toBe("e1");
  });

  it("joins data lines and drops blocks without data", () => {
    const { messages } = parse(["data: a\r", "\ndata: b\r\n", "\r\n", "event: x\n\n"]);
    // The CR and LF split across chunks are one line end, not two.
    expect(messages).toEqual([{ event: "message", data: "a\nb", id: "" }]);
  });

  it("moves the last event id with an id-only block, without dispatching", () => {
    const { messages, parser } = parse(["id: pos-7\n\n"], "old");
    expect(messages).toEqual([]);
    expect(parser.lastEventId).toBe("pos-7");
  });

  it("keeps the resumed id through blocks that carry none", () => {
    const { messages, parser } = parse(["retry: 3000\n\n", "data: x\n\n"], "e9");
    expect(messages).toEqual([{ event: "message", data: "x", id: "e9" }]);
    expect(parser.lastEventId).toBe("e9");
  });

  it("ignores a bad retry, an id with NUL, unknown fields and an unfinished block", () => {
    const { messages, parser } = parse(["retry: 12x\nid: a\0b\nfoo: bar\ndata: y\n\n", "data: never dispatched\n"], "keep");
    expect(parser.retry).toBeNull();
    expect(messages).toEqual([{ event: "message", data: "y", id: "keep" }]);
  });
});

// --- subscribeEvents ------------------------------------------------------

interface Call {
  headers: Record<string, string>;
  /** Pushes text into the answer's stream; end() closes it. */
  send: (text: string) => void;
  end: () => void;
  aborted: () => boolean;
}

/** A fetch whose answers are event streams the test writes into; answer(n) decides the status of the n-th call. */
function fakeEvents(answer: (n: number) => number = () => 200) {
  const calls: Call[] = [];
  const enc = new TextEncoder();
  const fetch = vi.fn(async (_url: string, init: RequestInit) => {
    const status = answer(calls.length);
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    let aborted = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctrl = c;
      },
    });
    init.signal?.addEventListener("abort", () => {
      aborted = true;
      try {
        ctrl.error(new DOMException("aborted", "AbortError"));
      } catch {
        // already closed
      }
    });
    calls.push({
      headers: { ...(init.headers as Record<string, string>) },
      send: (t) => ctrl.enqueue(enc.encode(t)),
      end: () => ctrl.close(),
      aborted: () => aborted,
    });
    if (status !== 200) {
      return new Response(JSON.stringify({ error: { code: "unauthenticated", message: "no" } }), { status, headers: { "Content-Type": "application/json" } });
    }
    return new Response(body, { status, headers: { "Content-Type": "text/event-stream" } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

const ev = (id: string, topic = "run.changed", tags = ["runs"]) =>
  `id: ${id}\nevent: ${topic}\ndata: ${JSON.stringify({ id, topic, time: "2026-11-17T06:40:00Z", tags, payload: { n: id } })}\n\n`;

describe("subscribeEvents", () => {
  let stop: (() => void) | null = null;
  afterEach(() => {
    stop?.();
    stop = null;
    vi.useRealTimers();
  });

  it("delivers events and reconnects with the last event id, token and profile", async () => {
    const srv = fakeEvents();
    const got: PuodEvent[] = [];
    const statuses: EventStatus[] = [];
    let token = "access-1";
    stop = subscribeEvents({
      url: "/api/v1/events",
      fetch: srv.fetch,
      token: () => token,
      profile: () => "team-a",
      onEvent: (e) => got.push(e),
      onStatus: (s) => statuses.push(s),
    });
    await vi.waitFor(() => expect(srv.calls).toHaveLength(1));
    const first = srv.calls[0]!;
    expect(first.headers.Authorization).toBe("Bearer access-1");
    expect(first.headers["X-PUOD-Profile"]).toBe("team-a");
    expect(first.headers["Last-Event-ID"]).toBeUndefined();

    first.send("retry: 5\n\nid: pos-0\n\n");
    first.send(ev("e1").slice(0, 20));
    first.send(ev("e1").slice(20) + ": ping\n\n");
    first.send(ev("r1", "reset", []));
    await vi.waitFor(() => expect(got).toHaveLength(2));
    expect(got[0]).toEqual({ id: "e1", topic: "run.changed", time: "2026-11-17T06:40:00Z", tags: ["runs"], payload: { n: "e1" } });
    expect(got[1]!.topic).toBe("reset");

    token = "access-2";
    first.end(); // the server went away: reconnect after retry (5 ms)
    await vi.waitFor(() => expect(srv.calls).toHaveLength(2));
    const second = srv.calls[1]!;
    expect(second.headers["Last-Event-ID"]).toBe("r1");
    expect(second.headers.Authorization).toBe("Bearer access-2");

    // A stream that ends before any event keeps the position it resumed from.
    second.send("retry: 5\n\n");
    second.end();
    await vi.waitFor(() => expect(srv.calls).toHaveLength(3));
    expect(srv.calls[2]!.headers["Last-Event-ID"]).toBe("r1");
    expect(statuses.slice(0, 3)).toEqual(["connecting", "open", "connecting"]);

    stop();
    stop = null;
    expect(srv.calls[2]!.aborted()).toBe(true);
    expect(statuses.at(-1)).toBe("closed");
  });

  it("renews the token on 401 and reconnects at once; gives up when renewal fails", async () => {
    const srv = fakeEvents((n) => (n === 0 ? 401 : 200));
    let token = "expired";
    const renew = vi.fn(async () => {
      token = "fresh";
      return true;
    });
    stop = subscribeEvents({ fetch: srv.fetch, token: () => token, onEvent: () => {}, onUnauthorized: renew });
    await vi.waitFor(() => expect(srv.calls).toHaveLength(2));
    expect(renew).toHaveBeenCalledOnce();
    expect(srv.calls[1]!.headers.Authorization).toBe("Bearer fresh");
    stop();

    const refused = fakeEvents(() => 401);
    const statuses: EventStatus[] = [];
    stop = subscribeEvents({ fetch: refused.fetch, token: () => "x", onEvent: () => {}, onStatus: (s) => statuses.push(s), onUnauthorized: async () => false });
    await vi.waitFor(() => expect(statuses.at(-1)).toBe("closed"));
    expect(refused.calls).toHaveLength(1);
  });

  it("backs off while the server is unreachable, then resumes", async () => {
    vi.useFakeTimers();
    let down = 3;
    const srv = fakeEvents();
    const attempts: number[] = [];
    const fetch = vi.fn(async (url: string, init: RequestInit) => {
      attempts.push(Date.now());
      if (down-- > 0) throw new TypeError("Failed to fetch");
      return srv.fetch(url, init);
    });
    stop = subscribeEvents({ fetch: fetch as unknown as typeof globalThis.fetch, token: () => "t", onEvent: () => {}, maxDelayMs: 10_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempts).toHaveLength(4);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 3 s, 6 s, 10 s (capped), each ±20 %.
    expect(gaps[0]).toBeGreaterThanOrEqual(2400);
    expect(gaps[0]).toBeLessThanOrEqual(3600);
    expect(gaps[1]).toBeGreaterThanOrEqual(4800);
    expect(gaps[2]).toBeLessThanOrEqual(12_000);
    expect(srv.calls).toHaveLength(1);
  });
});
