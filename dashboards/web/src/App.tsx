import { lazy, Suspense, useEffect, useState } from "react";
import { errorMessage } from "./api/client";
import { SessionProvider, useSession } from "./auth/session";
import { Link } from "./components/Link";
import { StateMessage } from "./components/States";
import { CatalogPage } from "./pages/CatalogPage";
import { LoginPage } from "./pages/LoginPage";
import { PluginsPage } from "./pages/PluginsPage";
import { SourcesPage } from "./pages/SourcesPage";
import { navigate, usePath, useTitle } from "./router";
import type { ApiClient } from "./api/client";

// Heavy pages load on demand: the dashboards page brings the grid and the
// visualizations (uPlot loads only when a time series is drawn).
const DashboardsListPage = lazy(() => import("./pages/DashboardsListPage"));
const DashboardPage = lazy(() => import("./pages/DashboardPage"));

/** What `/` opens: the dashboard provisioned from dashboards/pipelines-overview.json. */
export const HOME = "/dashboards/pipelines-overview";
const RunsPage = lazy(() => import("./pages/RunsPage"));
const AlertsPage = lazy(() => import("./pages/AlertsPage"));

const nav = [
  { href: "/dashboards", label: "Dashboards" },
  { href: "/runs", label: "Runs" },
  { href: "/alerts", label: "Alerts" },
  { href: "/sources", label: "Sources" },
  { href: "/plugins", label: "Plugins" },
  { href: "/catalog", label: "Card catalog" },
];

function ProfileSwitcher() {
  const { me, switchProfile } = useSession();
  const [error, setError] = useState<string | null>(null);
  if (!me) return null;
  if (me.memberships.length <= 1) {
    return (
      <span className="profile-static" title="Profile">
        {me.profile.name}
      </span>
    );
  }
  return (
    <span className="profile-switcher">
      <label htmlFor="profile" className="visually-hidden">
        Profile
      </label>
      <select
        id="profile"
        value={me.profile.id}
        onChange={(e) => {
          setError(null);
          switchProfile(e.target.value).catch((err) => setError(errorMessage(err)));
        }}
      >
        {me.memberships.map((m) => (
          <option key={m.profile_id} value={m.profile_id}>
            {m.profile_name} ({m.role})
          </option>
        ))}
      </select>
      {error && (
        <span role="alert" className="field-error">
          {error}
        </span>
      )}
    </span>
  );
}

function NotFound() {
  useTitle("Not found");
  return (
    <StateMessage kind="empty" title="Page not found" action={<Link className="btn" href="/dashboards">Go to dashboards</Link>}>
      There is no page at <code>{window.location.pathname}</code>.
    </StateMessage>
  );
}

function Page({ path }: { path: string }) {
  if (path === "/runs" || path === "/pipelines" || path.startsWith("/runs/")) return <RunsPage path={path} />;
  if (path === "/alerts" || path.startsWith("/alerts/")) return <AlertsPage path={path} />;
  switch (path) {
    case "/plugins":
      return <PluginsPage />;
    case "/sources":
      return <SourcesPage />;
    case "/catalog":
      return <CatalogPage />;
    case "/dashboards":
      return <DashboardsListPage />;
  }
  const dash = /^\/dashboards\/([^/]+)$/.exec(path);
  if (dash) return <DashboardPage key={dash[1]} id={decodeURIComponent(dash[1]!)} />;
  return <NotFound />;
}

function Shell() {
  const { me, logout } = useSession();
  const path = usePath();
  useEffect(() => {
    if (path === "/" || path === "/login") navigate(HOME, { replace: true });
  }, [path]);
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="PUOD home">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          PUOD
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={path === n.href || path.startsWith(`${n.href}/`) || (n.href === "/runs" && path === "/pipelines") ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-right">
          <ProfileSwitcher />
          <span className="user" title={`Role: ${me?.role}`}>
            {me?.user.display_name || me?.user.username}
            <span className="role">{me?.role}</span>
          </span>
          <button type="button" className="btn btn-ghost" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<StateMessage kind="loading" title="Loading page…" />}>
          <Page path={path} />
        </Suspense>
      </main>
    </div>
  );
}

function Gate() {
  const { status } = useSession();
  if (status === "resuming") {
    return (
      <main className="login">
        <StateMessage kind="loading" title="Resuming your session…" />
      </main>
    );
  }
  return status === "authenticated" ? <Shell /> : <LoginPage />;
}

export function App({ client }: { client?: ApiClient }) {
  return (
    <SessionProvider client={client}>
      <Gate />
    </SessionProvider>
  );
}
