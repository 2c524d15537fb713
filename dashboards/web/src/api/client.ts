import type { ErrorBody, FieldProblem, TokenResponse } from "./types";

/** An error answer of the API ({"error":{code,message,fields}}), or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldProblem[];
  readonly requestId?: string;
  /** The whole error answer, for routes that add to it (a 409's "current"). */
  readonly body?: unknown;

  constructor(status: number, code: string, message: string, fields: FieldProblem[] = [], requestId?: string, body?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.requestId = requestId;
    this.body = body;
  }
}

export interface ClientOptions {
  /** Where /api/v1 lives; default the page's origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Keeps the refresh token (and the chosen profile) across reloads of this tab only. */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
  /** Called when the session ends by itself (refresh refused): show the login page. */
  onSessionEnd?: (reason: string) => void;
}

const REFRESH_KEY = "puod.refresh_token";
const PROFILE_KEY = "puod.profile";

/**
 * The API client. The access token lives in memory only (a script that
 * reads storage cannot take it); the refresh token is in sessionStorage so
 * a reload of the tab stays logged in, and is gone when the tab closes.
 * A 401 triggers one refresh and one retry; concurrent 401s share that
 * refresh, because the server rotates refresh tokens and treats a reused
 * one as stolen.
 */
export class ApiClient {
  private access: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  private readonly store: ClientOptions["storage"];
  onSessionEnd?: (reason: string) => void;

  constructor(opts: ClientOptions = {}) {
    this.base = (opts.baseUrl ?? "").replace(/\/$/, "");
    this.doFetch = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    this.store = opts.storage ?? (typeof sessionStorage !== "undefined" ? sessionStorage : undefined);
    this.onSessionEnd = opts.onSessionEnd;
  }

  /** The current access token, for requests made outside this client (the event stream). */
  get accessToken(): string | null {
    return this.access;
  }

  /** The profile sent as X-PUOD-Profile (id or name); null → the user's default. */
  get profile(): string | null {
    return this.store?.getItem(PROFILE_KEY) ?? null;
  }

  set profile(p: string | null) {
    if (p) this.store?.setItem(PROFILE_KEY, p);
    else this.store?.removeItem(PROFILE_KEY);
  }

  /** Whether there is a session to resume (a refresh token from earlier in this tab). */
  canResume(): boolean {
    return !!this.store?.getItem(REFRESH_KEY);
  }

  isLoggedIn(): boolean {
    return this.access !== null;
  }

  async login(username: string, password: string): Promise<void> {
    const tokens = await this.send<TokenResponse>("POST", "/api/v1/auth/login", { username, password }, { auth: false });
    this.setTokens(tokens);
  }

  /** Resumes a session after a reload by exchanging the stored refresh token. */
  async resume(): Promise<boolean> {
    if (!this.canResume()) return false;
    return this.refresh();
  }

  async logout(): Promise<void> {
    const refresh = this.store?.getItem(REFRESH_KEY);
    try {
      // request, not send: an expired access token is refreshed first, and
      // the server ends the whole session the (rotated) token belongs to.
      if (this.access && refresh) await this.request("POST", "/api/v1/auth/logout", { refresh_token: refresh });
    } finally {
      this.clear();
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  del<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** An authenticated request; on 401 refreshes the tokens once and retries once. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const used = this.access;
    try {
      return await this.send<T>(method, path, body);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || !this.canResume()) throw e;
      // Another request may have refreshed meanwhile: then just retry.
      if (this.access === used || this.access === null) {
        if (!(await this.refresh())) throw e;
      }
      return this.send<T>(method, path, body);
    }
  }

  private refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const token = this.store?.getItem(REFRESH_KEY);
        if (!token) return false;
        try {
          this.setTokens(await this.send<TokenResponse>("POST", "/api/v1/auth/refresh", { refresh_token: token }, { auth: false }));
          return true;
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 400)) {
            this.clear();
            this.onSessionEnd?.("Your session ended. Log in again.");
          }
          return false;
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  private setTokens(t: TokenResponse) {
    this.access = t.access_token;
    this.store?.setItem(REFRESH_KEY, t.refresh_token);
  }

  private clear() {
    this.access = null;
    this.store?.removeItem(REFRESH_KEY);
  }

  private async send<T>(method: string, path: string, body: unknown, opts: { auth?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.auth !== false && this.access) headers.Authorization = `Bearer ${this.access}`;
    const profile = this.profile;
    if (profile) headers["X-PUOD-Profile"] = profile;
    let res: Response;
    try {
      res = await this.doFetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    } catch (e) {
      throw new ApiError(0, "network", `Cannot reach the PUOD server (${(e as Error).message}). Check your connection and try again.`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        if (!res.ok) throw new ApiError(res.status, "http_error", `${res.status} ${res.statusText || "error"}`);
        throw new ApiError(res.status, "bad_response", "The server answered with something that is not JSON.");
      }
    }
    if (!res.ok) {
      const err = (data as ErrorBody | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `${res.status} ${res.statusText || "error"}`, err?.fields ?? [], err?.request_id, data);
    }
    return data as T;
  }
}

/** A readable message for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
