import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiClient, errorMessage } from "../api/client";
import type { Me } from "../api/types";

export interface Session {
  client: ApiClient;
  status: "resuming" | "anonymous" | "authenticated";
  me: Me | null;
  /** Why the user is on the login page (session ended, logged out). */
  notice: string | null;
  /** Changes when the profile changes, so pages reload their data. */
  epoch: number;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  switchProfile: (profileId: string) => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside <SessionProvider>");
  return s;
}

export function SessionProvider({ client: given, children }: { client?: ApiClient; children: ReactNode }) {
  const client = useRef(given ?? new ApiClient()).current;
  const [status, setStatus] = useState<Session["status"]>(client.isLoggedIn() || client.canResume() ? "resuming" : "anonymous");
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [epoch, setEpoch] = useState(0);

  const loadMe = useCallback(async () => {
    const m = await client.get<Me>("/api/v1/auth/me");
    setMe(m);
    setStatus("authenticated");
    setNotice(null);
  }, [client]);

  useEffect(() => {
    client.onSessionEnd = (reason) => {
      setMe(null);
      setStatus("anonymous");
      setNotice(reason);
    };
  }, [client]);

  useEffect(() => {
    if (status !== "resuming") return;
    let live = true;
    (async () => {
      try {
        if (client.isLoggedIn() || (await client.resume())) {
          await loadMe();
          return;
        }
      } catch (e) {
        // A profile that no longer exists must not lock the user out.
        client.profile = null;
        if (live) setNotice(errorMessage(e));
      }
      if (live) setStatus("anonymous");
    })();
    return () => {
      live = false;
    };
  }, [client, status, loadMe]);

  const value = useMemo<Session>(
    () => ({
      client,
      status,
      me,
      notice,
      epoch,
      login: async (u, p) => {
        await client.login(u, p);
        await loadMe();
      },
      logout: async () => {
        try {
          await client.logout();
        } catch {
          // The local session ends whatever the server answered.
        } finally {
          client.profile = null;
          setMe(null);
          setStatus("anonymous");
          setNotice("You are logged out.");
        }
      },
      switchProfile: async (id) => {
        const before = client.profile;
        client.profile = id;
        try {
          await loadMe();
          setEpoch((n) => n + 1);
        } catch (e) {
          client.profile = before;
          throw e;
        }
      },
    }),
    [client, status, me, notice, epoch, loadMe],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export interface Resource<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** GETs path (again when the profile changes or reload is called). */
export function useResource<T>(path: string | null, opts: { refreshMs?: number } = {}): Resource<T> {
  const { client, epoch } = useSession();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    client.get<T>(path).then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(errorMessage(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [client, path, epoch, tick]);

  useEffect(() => {
    if (!opts.refreshMs) return;
    const t = setInterval(() => {
      if (document.visibilityState === "visible") setTick((n) => n + 1);
    }, opts.refreshMs);
    return () => clearInterval(t);
  }, [opts.refreshMs]);

  useEffect(() => {
    // A different profile's data must not show under the new one.
    setData(undefined);
  }, [epoch]);

  return { data, error, loading, reload: useCallback(() => setTick((n) => n + 1), []) };
}
