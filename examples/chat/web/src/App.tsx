// The chat page: pick a room, read its messages live, see who is online
// and who is typing, send one.
import { useEffect, useState } from "react";
import type { FormEvent } from "react";
// Everything ssot-ws comes from the generated code (buf generate --template examples/chat/buf.gen.yaml).
import { MessageChannels, MessageModel, RoomModel } from "./gen/chat/v1/chat_ssotws.js";
import { ValidationError } from "@ssot-ws/runtime";
import { useConnectionState, useList, usePresence, useTyping, useWrite } from "@ssot-ws/runtime/react";

/** App is the whole page. The room can be preselected with ?room=<id>. */
export function App() {
  const rooms = useList(RoomModel, {}, { subscribe: true });
  const [roomId, setRoomId] = useState(() => new URLSearchParams(location.search).get("room") ?? "");
  const first = rooms.items[0]?.id;
  useEffect(() => {
    if (roomId === "" && first !== undefined) setRoomId(first);
  }, [roomId, first]);
  const room = rooms.items.find((r) => r.id === roomId);

  return (
    <div className="app">
      <header>
        <h1>ssot-ws chat</h1>
        <ConnectionBadge />
      </header>
      <div className="body">
        <nav data-testid="room-list" aria-label="Rooms">
          <h2>Rooms</h2>
          {rooms.error !== undefined && <p className="error">{String(rooms.error)}</p>}
          <ul>
            {rooms.items.map((r) => (
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
            <p className="muted">{rooms.loading ? "Loading rooms…" : "No room."}</p>
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
  const messages = useList(MessageModel, { filter: { roomId } }, { subscribe: true });
  // Who is here and who is typing: ephemeral, not records (docs/presence.md).
  const [author, setAuthor] = useState("guest");
  const channel = MessageChannels.room(roomId);
  const online = usePresence(channel, { payload: author.trim() || "guest" });
  const typing = useTyping(channel);
  const nameOf = (user: string) => {
    const m = online.members.find((x) => x.user === user);
    return m ? decoder.decode(m.payload) : "someone";
  };
  return (
    <section className="room" data-testid="room" data-room-id={roomId}>
      <h2 data-testid="room-title">{props.title}</h2>
      <p className="muted" data-testid="online" data-count={online.members.length}>
        Online:{" "}
        {online.members.map((m) => (
          <span key={m.user} className="member" data-testid="online-member">
            {decoder.decode(m.payload)}
          </span>
        ))}
      </p>
      {messages.error !== undefined && (
        <p className="error" data-testid="messages-error">
          {String(messages.error)}
        </p>
      )}
      <ol className="messages" data-testid="message-list" data-live={String(messages.live)}>
        {messages.items.map((m) => (
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
      {!messages.loading && messages.items.length === 0 && <p className="muted">No messages yet.</p>}
      <p className="muted typing" data-testid="typing">
        {typing.typing.length > 0 && `${typing.typing.map(nameOf).join(", ")} typing…`}
      </p>
      <SendForm roomId={roomId} author={author} setAuthor={setAuthor} setTyping={typing.setTyping} />
    </section>
  );
}

const decoder = new TextDecoder();

function SendForm(props: { roomId: string; author: string; setAuthor(a: string): void; setTyping(on: boolean): void }) {
  const { author, setAuthor, setTyping } = props;
  // useWrite: a write's outcome as state, with the violated rules of
  // chat.proto per field (text is at most 4096 bytes), found before
  // sending or returned by the server.
  const write = useWrite(MessageModel);
  const [text, setText] = useState("");
  const sending = write.pending;

  async function send(e: FormEvent) {
    e.preventDefault();
    if (text.trim() === "" || sending) return;
    const sent = await write.create({ roomId: props.roomId, author: author.trim(), text });
    if (sent) {
      setText("");
      setTyping(false);
    }
  }
  const textErrors = write.fieldErrors["text"];
  const error = write.error instanceof ValidationError || write.error === undefined ? undefined : String(write.error);

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
        onChange={(e) => {
          setText(e.target.value);
          setTyping(e.target.value !== "");
        }}
        aria-invalid={textErrors !== undefined}
        autoFocus
      />
      <button type="submit" data-testid="send-button" disabled={sending || text.trim() === ""}>
        Send
      </button>
      {textErrors !== undefined && (
        <p className="error" data-testid="text-error">
          Message: {textErrors.join("; ")}
        </p>
      )}
      {error !== undefined && (
        <p className="error" data-testid="send-error">
          {error}
        </p>
      )}
    </form>
  );
}
