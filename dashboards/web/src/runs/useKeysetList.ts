import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "../api/client";
import { useSession } from "../auth/session";

export interface KeysetList<T> {
  items: T[] | undefined;
  /** The cursor of the next page; "" on the last page. */
  next: string;
  error: string | null;
  loading: boolean;
  loadingMore: boolean;
  moreError: string | null;
  /** Ids changed or added by the last refresh, to highlight briefly. */
  fresh: ReadonlySet<string>;
  loadMore: () => void;
  /** Re-reads the first page and merges it with what is loaded (live updates). */
  refresh: () => void;
  reload: () => void;
}

interface Item {
  id: string;
  updated_at?: string;
}

/**
 * A list read page by page with the API's keyset cursor ("Load more").
 * url(cursor) builds the request; key identifies the query, and a new key
 * starts over. A refresh keeps the pages already loaded: the new first
 * page replaces its own rows and the rest stays, so the reader's place
 * does not jump.
 */
export function useKeysetList<T extends Item, P>(key: string, url: (cursor?: string) => string, pick: (p: P) => { items: T[]; next: string }): KeysetList<T> {
  const { client, epoch } = useSession();
  const [items, setItems] = useState<T[] | undefined>();
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [tick, setTick] = useState(0);
  // The generation of the query: answers to an older one are dropped.
  const gen = useRef(0);
  const latest = useRef({ url, pick, items, next, pages: 0 });
  latest.current = { ...latest.current, url, pick, items, next };

  useEffect(() => {
    const g = ++gen.current;
    setLoading(true);
    setItems(undefined);
    setError(null);
    setMoreError(null);
    setFresh(new Set());
    client.get<P>(latest.current.url()).then(
      (p) => {
        if (g !== gen.current) return;
        const page = latest.current.pick(p);
        latest.current.pages = 1;
        setItems(page.items);
        setNext(page.next);
        setLoading(false);
      },
      (e) => {
        if (g !== gen.current) return;
        setError(errorMessage(e));
        setLoading(false);
      },
    );
  }, [client, key, epoch, tick]);

  const loadMore = useCallback(() => {
    const g = gen.current;
    const cursor = latest.current.next;
    if (!cursor) return;
    setLoadingMore(true);
    setMoreError(null);
    client.get<P>(latest.current.url(cursor)).then(
      (p) => {
        if (g !== gen.current) return;
        const page = latest.current.pick(p);
        latest.current.pages += 1;
        setItems((cur) => {
          const have = new Set((cur ?? []).map((r) => r.id));
          return [...(cur ?? []), ...page.items.filter((r) => !have.has(r.id))];
        });
        setNext(page.next);
        setLoadingMore(false);
      },
      (e) => {
        if (g !== gen.current) return;
        setMoreError(errorMessage(e));
        setLoadingMore(false);
      },
    );
  }, [client]);

  const refresh = useCallback(() => {
    const g = gen.current;
    if (latest.current.items === undefined) return;
    client.get<P>(latest.current.url()).then(
      (p) => {
        if (g !== gen.current) return;
        const page = latest.current.pick(p);
        const cur = latest.current.items ?? [];
        const before = new Map(cur.map((r) => [r.id, r.updated_at ?? ""]));
        const changed = new Set(page.items.filter((r) => before.get(r.id) !== (r.updated_at ?? "")).map((r) => r.id));
        if (latest.current.pages <= 1) {
          setItems(page.items);
          setNext(page.next);
        } else {
          // Keep the later pages: the rows loaded beyond the new first page.
          const head = new Set(page.items.map((r) => r.id));
          const lastHead = page.items.length ? cur.findIndex((r) => r.id === page.items[page.items.length - 1]!.id) : -1;
          const tail = cur.filter((r, i) => !head.has(r.id) && i > lastHead);
          setItems([...page.items, ...tail]);
        }
        setFresh(changed);
      },
      () => {
        // A failed live refresh keeps the list shown; the next event retries.
      },
    );
  }, [client]);

  return { items, next, error, loading, loadingMore, moreError, fresh, loadMore, refresh, reload: useCallback(() => setTick((n) => n + 1), []) };
}
