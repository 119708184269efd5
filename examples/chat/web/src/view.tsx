// What the chat example's two pages (App.tsx on the hooks, query/App.tsx
// on connect-query) show alike: the page's frame with the room list, the
// connection badge, the message list and the send form. Only props come
// in; how each page reads and writes its data stays in its own file.
import { useEffect, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { useConnectionState } from "@ssot-ws/runtime/react";

/** RoomItem is what the room list shows of a room. */
export interface RoomItem {
  readonly id: string;
  readonly title: string;
}

/** MessageItem is what the message list shows of a message. */
export interface MessageItem {
  readonly id: string;
  readonly author: string;
  readonly text: string;
}

/**
 * Page is the frame of the page: header, the room list, and the chosen
 * room, which room renders: the one of ?room=<id> or picked in the list,
 * else the first room once the list has one.
 */
export function Page(props: {
  title: string;
  rooms: readonly RoomItem[];
  roomsError: unknown;
  roomsLoading: boolean;
  room(id: string, title: string): ReactNode;
}) {
  const [roomId, setRoomId] = useState(() => new URLSearchParams(location.search).get("room") ?? "");
  const first = props.rooms[0]?.id;
  useEffect(() => {
    if (roomId === "" && first !== undefined) setRoomId(first);
  }, [roomId, first]);
  const room = props.rooms.find((r) => r.id === roomId);
  return (
    <div className="app">
      <header>
        <h1>{props.title}</h1>
        <ConnectionBadge />
      </header>
      <div className="body">
        <nav data-testid="room-list" aria-label="Rooms">
          <h2>Rooms</h2>
          {props.roomsError != null && <p className="error">{String(props.roomsError)}</p>}
          <ul>
            {props.rooms.map((r) => (
              <li key={r.id}>
                <button
                  type="button"
                  data-testid={`room-${r.id}`}
                  aria-current={r.id === roomId ? "true" : undefined}
                  onClick={() => setRoomId(r.id)}
                >
                  {r.title || r.id}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <main>
          {roomId === "" ? <p className="muted">{props.roomsLoading ? "Loading rooms…" : "No room."}</p> : props.room(roomId, room?.title ?? roomId)}
        </main>
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

/** Messages is a room's message list; live tells whether it is kept up to date from the socket. */
export function Messages(props: { items: readonly MessageItem[]; error: unknown; loading: boolean; live: boolean }) {
  const { items } = props;
  return (
    <>
      {props.error != null && (
        <p className="error" data-testid="messages-error">
          {String(props.error)}
        </p>
      )}
      <ol className="messages" data-testid="message-list" data-live={String(props.live)}>
        {items.map((m) => (
          <li key={m.id} data-testid="message" data-id={m.id}>
            <span className="author" data-testid="message-author">
              {m.author || "anonymous"}
            </span>
            <span className="text" data-testid="message-text">
              {m.text}
            </span>
          </li>
        ))}
      </ol>
      {!props.loading && items.length === 0 && <p className="muted">No messages yet.</p>}
    </>
  );
}

/**
 * SendForm is the form that sends a message: send creates it with the
 * trimmed author and the text, and rejects with what to show on failure,
 * or resolves false when the page shows why itself (textErrors, error).
 * onText hears each edit of the text (a page tells others it is typing).
 */
export function SendForm(props: {
  author: string;
  setAuthor(a: string): void;
  send(author: string, text: string): Promise<boolean | void>;
  onText?(text: string): void;
  /** textErrors are the violated rules of the text (chat.proto's buf.validate rules). */
  textErrors?: readonly string[] | undefined;
  /** error is a failure the page tracks itself. */
  error?: string | undefined;
}) {
  const { author, setAuthor } = props;
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (text.trim() === "" || sending) return;
    setSending(true);
    setError(undefined);
    try {
      if ((await props.send(author.trim(), text)) !== false) setText("");
    } catch (err) {
      setError(String(err));
    } finally {
      setSending(false);
    }
  }

  return (
    <form className="send" data-testid="send-form" onSubmit={(e) => void submit(e)}>
      <input
        data-testid="author-input"
        aria-label="Name"
        placeholder="Name"
        value={author}
        onChange={(e) => setAuthor(e.target.value)}
      />
      <input
        data-testid="text-input"
        aria-label="Message"
        placeholder="Write a message"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          props.onText?.(e.target.value);
        }}
        aria-invalid={props.textErrors !== undefined}
        autoFocus
      />
      <button type="submit" data-testid="send-button" disabled={sending || text.trim() === ""}>
        Send
      </button>
      {props.textErrors !== undefined && (
        <p className="error" data-testid="text-error">
          Message: {props.textErrors.join("; ")}
        </p>
      )}
      {(error ?? props.error) !== undefined && (
        <p className="error" data-testid="send-error">
          {error ?? props.error}
        </p>
      )}
    </form>
  );
}
