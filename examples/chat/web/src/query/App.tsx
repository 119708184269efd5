// The chat page on connect-query: the same page as ../App.tsx, written the
// way a connect-query app is (useQuery and useMutation with the generated
// method constants); nothing here knows the queries are live but the
// data-live badge, which asks the live mode. What it shows is ../view.tsx,
// shared with the hooks page.
import { createContext, useContext, useState, useSyncExternalStore } from "react";
import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import type { LiveQueries } from "@ssot-ws/runtime/query";
import { createMessage, listMessages, listRooms } from "../gen/chat/v1/chat-ChatService_connectquery.js";
import { Messages, Page, SendForm } from "../view.js";

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
  return (
    <Page
      title="ssot-ws chat (connect-query)"
      rooms={rooms.data?.rooms ?? []}
      roomsError={rooms.error}
      roomsLoading={rooms.isPending}
      room={(id, title) => <Room key={id} roomId={id} title={title} />}
    />
  );
}

function Room(props: { roomId: string; title: string }) {
  const { roomId } = props;
  const messages = useQuery(listMessages, { roomId });
  const create = useMutation(createMessage);
  const [author, setAuthor] = useState("guest");
  const transport = useTransport();
  const live = useLive(createConnectQueryKey({ schema: listMessages, input: { roomId }, transport, cardinality: "finite" }));
  return (
    <section className="room" data-testid="room" data-room-id={roomId}>
      <h2 data-testid="room-title">{props.title}</h2>
      <Messages items={messages.data?.messages ?? []} error={messages.error} loading={messages.isPending} live={live} />
      <SendForm
        author={author}
        setAuthor={setAuthor}
        send={async (author, text) => {
          await create.mutateAsync({ message: { roomId, author, text } });
        }}
      />
    </section>
  );
}
