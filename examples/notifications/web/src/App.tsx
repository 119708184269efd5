// The notifications page: sign in, read your notifications live, mark them
// read, and (dev only) send one to anyone.
import { useState } from "react";
import type { FormEvent } from "react";
// Everything ssot-ws comes from the generated code (buf generate --template examples/notifications/buf.gen.yaml).
import { NotificationModel } from "./gen/notifications/v1/notifications_ssotws.js";
import { useClient, useConnectionState, useList } from "@ssot-ws/runtime/react";

const userKey = "ssotws-notifications-user";

/**
 * devToken is the bearer token of user. DEV ONLY: the example server
 * accepts "dev-<name>" as the user <name>, unsigned. A real app gets a
 * signed token from its identity provider instead.
 */
export function devToken(user: string): string {
  return `dev-${user}`;
}

/** storedUser is the user signed in in this tab (or ?user=<name>), or "". */
export function storedUser(): string {
  return new URLSearchParams(location.search).get("user") ?? sessionStorage.getItem(userKey) ?? "";
}

/** SignIn asks for a name: no password, the server takes dev tokens. */
export function SignIn(props: { onSignIn: (user: string) => void }) {
  const [name, setName] = useState("");
  function submit(e: FormEvent) {
    e.preventDefault();
    const user = name.trim().toLowerCase();
    if (user === "") return;
    sessionStorage.setItem(userKey, user);
    props.onSignIn(user);
  }
  return (
    <div className="app">
      <header>
        <h1>ssot-ws notifications</h1>
      </header>
      <form className="card signin" data-testid="signin-form" onSubmit={submit}>
        <h2>Sign in</h2>
        <p className="muted">Dev tokens: any name signs you in as that user. Never deploy this.</p>
        <input
          data-testid="signin-name"
          aria-label="Your name"
          placeholder="alice"
          value={name}
          onChange={(e) => setName(e.target.value)}
          autoFocus
        />
        <button type="submit" data-testid="signin-button" disabled={name.trim() === ""}>
          Sign in
        </button>
      </form>
    </div>
  );
}

/** App is the page of a signed-in user. */
export function App(props: { user: string }) {
  // OWNER read: the server lists, and the gateway delivers, this user's only.
  const notifications = useList(NotificationModel, {}, { subscribe: true });
  const unread = notifications.items.filter((n) => !n.read).length;
  return (
    <div className="app">
      <header>
        <h1>
          ssot-ws notifications{" "}
          <span className="count" data-testid="unread-count" data-count={unread} title="unread">
            {unread}
          </span>
        </h1>
        <span>
          <span data-testid="user">{props.user}</span>{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              sessionStorage.removeItem(userKey);
              location.search = "";
            }}
          >
            sign out
          </button>{" "}
          <ConnectionBadge />
        </span>
      </header>
      <div className="body">
        <main className="card">
          <h2>Your notifications</h2>
          {notifications.error !== undefined && <p className="error">{String(notifications.error)}</p>}
          <ul className="notifications" data-testid="notification-list" data-live={String(notifications.live)}>
            {[...notifications.items].reverse().map((n) => (
              <Item key={n.id} id={n.id} text={n.text} read={n.read} />
            ))}
          </ul>
          {!notifications.loading && notifications.items.length === 0 && <p className="muted">Nothing yet.</p>}
        </main>
        <SendForm />
      </div>
    </div>
  );
}

function ConnectionBadge() {
  const state = useConnectionState();
  return (
    <span className={`badge badge-${state}`} data-testid="connection-state" data-state={state}>
      {state}
    </span>
  );
}

function Item(props: { id: string; text: string; read: boolean }) {
  const client = useClient(NotificationModel);
  const [error, setError] = useState<string>();
  async function markRead() {
    try {
      // Update with a mask: only "read" changes.
      await client.update(props.id, { id: props.id, read: true }, ["read"]);
    } catch (err) {
      setError(String(err));
    }
  }
  return (
    <li data-testid="notification" data-id={props.id} data-read={String(props.read)} className={props.read ? "read" : ""}>
      <span data-testid="notification-text">{props.text}</span>
      {!props.read && (
        <button type="button" data-testid="mark-read" onClick={() => void markRead()}>
          Mark read
        </button>
      )}
      {error !== undefined && <span className="error">{error}</span>}
    </li>
  );
}

/**
 * SendForm calls the server's sender endpoint. DEV ONLY, like the tokens:
 * in a real app notifications come from the server's own code.
 */
function SendForm() {
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [status, setStatus] = useState("");
  async function send(e: FormEvent) {
    e.preventDefault();
    const body = new URLSearchParams({ to: to.trim().toLowerCase(), text });
    const res = await fetch("/dev/send", { method: "POST", body });
    setStatus(res.ok ? `sent to ${to}` : await res.text());
    if (res.ok) setText("");
  }
  return (
    <form className="card send" data-testid="send-form" onSubmit={(e) => void send(e)}>
      <h2>Send (dev)</h2>
      <input data-testid="send-to" aria-label="To" placeholder="to: bob" value={to} onChange={(e) => setTo(e.target.value)} />
      <input data-testid="send-text" aria-label="Text" placeholder="text" value={text} onChange={(e) => setText(e.target.value)} />
      <button type="submit" data-testid="send-button" disabled={to.trim() === "" || text === ""}>
        Send
      </button>
      <p className="muted" data-testid="send-status">
        {status}
      </p>
    </form>
  );
}
