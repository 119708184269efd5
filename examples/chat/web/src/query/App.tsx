// The chat page on connect-query: the same page as ../App.tsx, written the
// way a connect-query app is (useQuery and useMutation with the generated
// method constants); nothing here knows the queries are live but the
// data-live badge, which asks the live mode.
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from "react";
import type { FormEvent } from "react";
import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import type { LiveQueries } from "@ssot-ws/runtime/query";
import { useConnectionState } from "@ssot-ws/runtime/react";
import { createMessage, listMessages, listRooms } from "../gen/chat/v1/chat-ChatService_connectquery.js";

/** LiveContext gives the page the live mode, for its data-live attribute only. */
export const LiveContext = createContext<LiveQueries | undefined>(undefined);

/** useLive reports whether the query of (method, input) is patched from the socket now. */
function useLive(key: ReturnType<typeof createConnectQueryKey>): boolean {
  const live = useContext(LiveContext);
  return useSyncExternalStore(
    (cb) => live?.subscribe(cb) ?? (() => {}),
    () => live?.isLive(key) ?? false,
  );
}

/** App is the whole page. The room can be preselected with ?room=<id>. */
export function App() {
  const rooms = useQuery(listRooms, {});
  const items = rooms.data?.rooms ?? [];
  const [roomId, setRoomId] = useState(() => new URLSearchParams(location.search).get("room") ?? "");
  const first = items[0]?.id;
  useEffect(() => {
    if (roomId === "" && first !== undefined) setRoomId(first);
  }, [roomId, first]);
  const room = items.find((r) => r.id === roomId);

  return (
    <div className="app">
      <header>
        <h1>ssot-ws chat (connect-query)</h1>
        <ConnectionBadge />
      </header>
      <div className="body">
        <nav data-testid="room-list" aria-label="Rooms">
          <h2>Rooms</h2>
          {rooms.error && <p className="error">{String(rooms.error)}</p>}
          <ul>
            {items.map((r) => (
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
          {roomId === "" ? (
            <p className="muted">{rooms.isPending ? "Loading rooms…" : "No room."}</p>
          ) : (
            <Room key={roomId} roomId={roomId} title={room?.title ?? roomId} />
          )}
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

function Room(props: { roomId: string; title: string }) {
  const { roomId } = props;
  const messages = useQuery(listMessages, { roomId });
  const transport = useTransport();
  const live = useLive(createConnectQueryKey({ schema: listMessages, input: { roomId }, transport, cardinality: "finite" }));
  const items = messages.data?.messages ?? [];
  return (
    <section className="room" data-testid="room" data-room-id={roomId}>
      <h2 data-testid="room-title">{props.title}</h2>
      {messages.error && (
        <p className="error" data-testid="messages-error">
          {String(messages.error)}
        </p>
      )}
      <ol className="messages" data-testid="message-list" data-live={String(live)}>
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
      {!messages.isPending && items.length === 0 && <p className="muted">No messages yet.</p>}
      <SendForm roomId={roomId} />
    </section>
  );
}

function SendForm(props: { roomId: string }) {
  const create = useMutation(createMessage);
  const [author, setAuthor] = useState("guest");
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();

  async function send(e: FormEvent) {
    e.preventDefault();
    if (text.trim() === "" || create.isPending) return;
    setError(undefined);
    try {
      await create.mutateAsync({ message: { roomId: props.roomId, author: author.trim(), text } });
      setText("");
    } catch (err) {
      setError(String(err));
    }
  }

  return (
    <form className="send" data-testid="send-form" onSubmit={(e) => void send(e)}>
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
        onChange={(e) => setText(e.target.value)}
        autoFocus
      />
      <button type="submit" data-testid="send-button" disabled={create.isPending || text.trim() === ""}>
        Send
      </button>
      {error !== undefined && (
        <p className="error" data-testid="send-error">
          {error}
        </p>
      )}
    </form>
  );
}
