import type { ReactNode } from "react";

type Kind = "loading" | "empty" | "error";

interface Props {
  kind: Kind;
  title?: string;
  children?: ReactNode;
  /** An action, such as a retry button. */
  action?: ReactNode;
  compact?: boolean;
}

const defaults: Record<Kind, string> = {
  loading: "Loading…",
  empty: "No data",
  error: "Something went wrong",
};

function Icon({ kind }: { kind: Kind }) {
  if (kind === "loading") return <span className="spinner" aria-hidden="true" />;
  const path =
    kind === "empty"
      ? "M4 7h16M4 12h10M4 17h6" // a sparse list
      : "M12 8v5m0 3.5v.5M10.3 3.9 2.4 17.5A2 2 0 0 0 4.1 20.5h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0Z";
  return (
    <svg className="state-icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
      <path d={path} />
    </svg>
  );
}

/**
 * The designed loading, empty and error states: a card or a page is never
 * just blank. Loading is announced politely; errors assertively.
 */
export function StateMessage({ kind, title, children, action, compact }: Props) {
  const role = kind === "error" ? "alert" : "status";
  return (
    <div className={`state state-${kind}${compact ? " state-compact" : ""}`} role={role} aria-busy={kind === "loading" || undefined}>
      <Icon kind={kind} />
      <div className="state-text">
        <strong>{title ?? defaults[kind]}</strong>
        {children && <div className="state-detail">{children}</div>}
      </div>
      {action && <div className="state-action">{action}</div>}
    </div>
  );
}

/** A grey placeholder shaped like content, for pages that load. */
export function Skeleton({ lines = 3 }: { lines?: number }) {
  return (
    <div className="skeleton" role="status" aria-busy="true" aria-label="Loading">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton-line" style={{ width: `${90 - i * 15}%` }} />
      ))}
    </div>
  );
}
