// The chat page: pick a room, read its messages live, see who is online
// and who is typing, send one. What it shows is view.tsx, shared with the
// connect-query page; how it reads and writes is here.
import { useState } from "react";
// Everything ssot-ws comes from the generated code (buf generate --template examples/chat/buf.gen.yaml).
import { MessageChannels, MessageModel, MessagePresence, MessageSignals, RoomModel } from "./gen/chat/v1/chat_ssotws.js";
import { ValidationError } from "@ssot-ws/runtime";
import { useList, usePresence, useTyping, useWrite } from "@ssot-ws/runtime/react";
import type { TypingSignal } from "@ssot-ws/runtime/react";
import { Messages, Page, SendForm } from "./view.js";

/** App is the whole page. The room can be preselected with ?room=<id>. */
export function App() {
  const rooms = useList(RoomModel, {}, { subscribe: true });
  return (
    <Page
      title="ssot-ws chat"
      rooms={rooms.items}
      roomsError={rooms.error}
      roomsLoading={rooms.loading}
      room={(id, title) => <Room key={id} roomId={id} title={title} />}
    />
  );
}

function Room(props: { roomId: string; title: string }) {
  const { roomId } = props;
  const messages = useList(MessageModel, { filter: { roomId } }, { subscribe: true });
  // useWrite: a write's outcome as state, with the violated rules of
  // chat.proto per field (text is at most 4096 bytes), found before
  // sending or returned by the server.
  const write = useWrite(MessageModel);
  // Who is here and who is typing: ephemeral, not records (docs/presence.md).
  // Message declares both types: a chat.v1.Member payload, chat.v1.Typing signals.
  const [author, setAuthor] = useState("guest");
  const channel = MessageChannels.room(roomId);
  const online = usePresence(MessagePresence, channel, { payload: { displayName: author.trim() || "guest" } });
  const typing = useTyping(channel, { signal: typingSignal });
  const nameOf = (user: string) => online.members.find((x) => x.user === user)?.payload.displayName ?? "someone";
  return (
    <section className="room" data-testid="room" data-room-id={roomId}>
      <h2 data-testid="room-title">{props.title}</h2>
      <p className="muted" data-testid="online" data-count={online.members.length}>
        Online:{" "}
        {online.members.map((m) => (
          <span key={m.user} className="member" data-testid="online-member">
            {m.payload.displayName}
          </span>
        ))}
      </p>
      <Messages items={messages.items} error={messages.error} loading={messages.loading} live={messages.live} />
      <p className="muted typing" data-testid="typing">
        {typing.typing.length > 0 && `${typing.typing.map(nameOf).join(", ")} typing…`}
      </p>
      <SendForm
        author={author}
        setAuthor={setAuthor}
        send={async (author, text) => {
          if ((await write.create({ roomId, author, text })) === undefined) return false;
          typing.setTyping(false);
          return true;
        }}
        textErrors={write.fieldErrors["text"]}
        error={write.error instanceof ValidationError || write.error === undefined ? undefined : String(write.error)}
        onText={(text) => typing.setTyping(text !== "")}
      />
    </section>
  );
}

/** typingSignal says "typing" and "stopped" in the room's declared signal, chat.v1.Typing. */
const typingSignal: TypingSignal<typeof MessageSignals.schema> = {
  type: MessageSignals,
  encode: (typing) => ({ typing }),
  decode: (t) => t.typing,
};
