import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError } from "./client";

type Handler = (req: { method: string; path: string; headers: Record<string, string>; body: any }) => { status: number; body?: unknown };

function fakeServer(handler: Handler) {
  const calls: { method: string; path: string; headers: Record<string, string>; body: any }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const req = { method: init.method ?? "GET", path: url, headers: init.headers as Record<string, string>, body: init.body ? JSON.parse(init.body as string) : undefined };
    calls.push(req);
    const res = handler(req);
    return new Response(res.body === undefined ? null : JSON.stringify(res.body), { status: res.status, headers: { "Content-Type": "application/json" } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

const err = (code: string, message: string) => ({ error: { code, message } });

/** A server whose access tokens are "access-N"; only the newest is valid. refresh tokens rotate. */
function authServer(opts: { refreshWorks?: boolean } = {}) {
  let n = 1;
  let refresh = "refresh-1";
  const srv = fakeServer((r) => {
    if (r.path === "/api/v1/auth/login") return { status: 200, body: { access_token: `access-${n}`, refresh_token: refresh, expires_in: 900 } };
    if (r.path === "/api/v1/auth/refresh") {
      if (opts.refreshWorks === false || r.body.refresh_token !== refresh) return { status: 401, body: err("unauthenticated", "refresh token reused") };
      n++;
      refresh = `refresh-${n}`;
      return { status: 200, body: { access_token: `access-${n}`, refresh_token: refresh, expires_in: 900 } };
    }
    if (r.headers.Authorization !== `Bearer access-${n}`) return { status: 401, body: err("unauthenticated", "token expired") };
    return { status: 200, body: { ok: true, token: n, profile: r.headers["X-PUOD-Profile"] ?? null } };
  });
  return { ...srv, expire: () => n++ };
}

describe("ApiClient", () => {
  it("logs in, keeps the access token in memory and the refresh token in sessionStorage", async () => {
    const srv = authServer();
    const c = new ApiClient({ fetch: srv.fetch });
    await c.login("admin", "pw");
    expect(sessionStorage.getItem("puod.refresh_token")).toBe("refresh-1");
    expect(JSON.stringify(sessionStorage)).not.toContain("access-1");
    expect(await c.get("/api/v1/plugins")).toMatchObject({ ok: true, token: 1 });
    expect(srv.calls[1]!.headers.Authorization).toBe("Bearer access-1");
  });

  it("refreshes once on 401 and retries the request", async () => {
    const srv = authServer();
    const c = new ApiClient({ fetch: srv.fetch });
    await c.login("admin", "pw");
    srv.expire(); // access-1 has expired; refresh-1 is still good
    expect(await c.get("/api/v1/plugins")).toMatchObject({ ok: true });
    const paths = srv.calls.map((x) => `${x.method} ${x.path}`);
    expect(paths).toEqual(["POST /api/v1/auth/login", "GET /api/v1/plugins", "POST /api/v1/auth/refresh", "GET /api/v1/plugins"]);
    expect(sessionStorage.getItem("puod.refresh_token")).toBe("refresh-3");
  });

  it("does not loop: a second 401 after the refresh is the caller's error", async () => {
    let refreshes = 0;
    const srv = fakeServer((r) => {
      if (r.path === "/api/v1/auth/login") return { status: 200, body: { access_token: "a", refresh_token: "r", expires_in: 900 } };
      if (r.path === "/api/v1/auth/refresh") {
        refreshes++;
        return { status: 200, body: { access_token: `a${refreshes}`, refresh_token: `r${refreshes}`, expires_in: 900 } };
      }
      return { status: 401, body: err("unauthenticated", "no") };
    });
    const c = new ApiClient({ fetch: srv.fetch });
    await c.login("u", "p");
    await expect(c.get("/api/v1/sources")).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    expect(refreshes).toBe(1);
    expect(srv.calls.filter((x) => x.path === "/api/v1/sources")).toHaveLength(2);
  });

  it("shares one refresh between concurrent 401s (refresh tokens are single use)", async () => {
    const srv = authServer();
    const c = new ApiClient({ fetch: srv.fetch });
    await c.login("admin", "pw");
    srv.expire();
    const results = await Promise.all([c.get("/api/v1/a"), c.get("/api/v1/b"), c.get("/api/v1/c")]);
    expect(results.every((r: any) => r.ok)).toBe(true);
    expect(srv.calls.filter((x) => x.path === "/api/v1/auth/refresh")).toHaveLength(1);
  });

  it("ends the session when the refresh is refused", async () => {
    const srv = authServer({ refreshWorks: false });
    const onSessionEnd = vi.fn();
    const c = new ApiClient({ fetch: srv.fetch, onSessionEnd });
    await c.login("admin", "pw");
    srv.expire();
    await expect(c.get("/api/v1/plugins")).rejects.toBeInstanceOf(ApiError);
    expect(onSessionEnd).toHaveBeenCalledOnce();
    expect(sessionStorage.getItem("puod.refresh_token")).toBeNull();
    expect(c.isLoggedIn()).toBe(false);
  });

  it("never refreshes for a failed login", async () => {
    const srv = fakeServer(() => ({ status: 401, body: err("unauthenticated", "wrong username or password") }));
    const c = new ApiClient({ fetch: srv.fetch });
    await expect(c.login("admin", "bad")).rejects.toMatchObject({ status: 401, message: "wrong username or password" });
    expect(srv.calls).toHaveLength(1);
  });

  it("resumes a session after a reload from the stored refresh token", async () => {
    const srv = authServer();
    await new ApiClient({ fetch: srv.fetch }).login("admin", "pw");
    const reloaded = new ApiClient({ fetch: srv.fetch });
    expect(reloaded.isLoggedIn()).toBe(false);
    expect(await reloaded.resume()).toBe(true);
    expect(await reloaded.get("/api/v1/x")).toMatchObject({ token: 2 });
  });

  it("sends the chosen profile and parses error fields", async () => {
    const srv = fakeServer((r) =>
      r.path === "/api/v1/sources"
        ? { status: 400, body: { error: { code: "invalid", message: "the configuration is invalid", fields: [{ field: "/config/greeting", message: "required" }], request_id: "abc" } } }
        : { status: 204 },
    );
    const c = new ApiClient({ fetch: srv.fetch });
    c.profile = "p2";
    const e = await c.post("/api/v1/sources", { name: "x" }).catch((x) => x);
    expect(srv.calls[0]!.headers["X-PUOD-Profile"]).toBe("p2");
    expect(e).toMatchObject({ status: 400, code: "invalid", fields: [{ field: "/config/greeting", message: "required" }], requestId: "abc" });
    expect(await c.del("/api/v1/sources/1")).toBeUndefined();
  });

  it("turns a network failure into a readable error", async () => {
    const c = new ApiClient({ fetch: (async () => { throw new TypeError("Failed to fetch"); }) as never });
    await expect(c.get("/api/v1/plugins")).rejects.toMatchObject({ status: 0, message: expect.stringContaining("Cannot reach the PUOD server") });
  });
});
