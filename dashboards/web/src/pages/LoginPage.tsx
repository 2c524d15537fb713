import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { useSession } from "../auth/session";
import { useTitle } from "../router";

export function LoginPage() {
  useTitle("Log in");
  const { login, notice } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Wrong username or password." : errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <div className="brand brand-large" aria-hidden="true">
          <img src="/favicon.svg" alt="" width="36" height="36" />
          PUOD
        </div>
        <h1 id="login-title">Log in</h1>
        <p className="muted">Observability for your data pipelines.</p>
        {notice && !error && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p className="form-alert" role="alert">
            {error}
          </p>
        )}
        <div className="field">
          <label className="field-label" htmlFor="username">
            Username
          </label>
          <input id="username" name="username" autoComplete="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label className="field-label" htmlFor="password">
            Password
          </label>
          <input id="password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
