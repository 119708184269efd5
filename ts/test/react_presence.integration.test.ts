// @vitest-environment jsdom
// The typed presence hooks against the chat example's Go server over real
// WebSockets: two rendered rooms see each other's declared chat.v1.Member
// payloads, hear each other's chat.v1.Typing signals, and the typing
// indicator speaks the declared signal.
import { createRequire } from "node:module";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { createElement, useState } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection, WebSocketCtor } from "../runtime/src/conn.js";
import { definePresence, defineSignals } from "../runtime/src/presence_typed.js";
import { usePresence, useSignals, useTyping } from "../runtime/src/react.js";
import { startChatServer } from "./chatserver.js";
import type { ChatServer } from "./chatserver.js";
import { MemberSchema, TypingSchema } from "./gen/chat/v1/chat_pb.js";

// What the generated chat_ssotws.ts declares for Message.
const MessagePresence = definePresence(MemberSchema);
const MessageSignals = defineSignals(TypingSchema);

let server: ChatServer | undefined;
const conns: Connection[] = [];

let PageWebSocket: WebSocketCtor | undefined;

beforeAll(async () => {
  server = await startChatServer();
  // The sockets are a page's of the chat server's origin, as in a browser:
  // jsdom's WebSocket sends its window's Origin, which the gateway checks
  // (the test environment's window is of another origin).
  const { JSDOM } = createRequire(__filename)("jsdom") as {
    JSDOM: new (html: string, options: { url: string }) => { window: { WebSocket: WebSocketCtor } };
  };
  PageWebSocket = new JSDOM("", { url: server.base + "/" }).window.WebSocket;
}, 180_000);
afterEach(() => cleanup());
afterAll(() => {
  for (const c of conns) c.close();
  server?.stop();
});

function dial(): Connection {
  const conn = createConnection({
    url: server!.base.replace(/^http/, "ws") + "/ws",
    WebSocket: PageWebSocket!,
    backoff: { baseMs: 50, capMs: 100 },
  });
  conns.push(conn);
  return conn;
}

/** Room renders what one user of channel sees, and buttons to act. */
function Room(props: { name: string; channel: string; connection: Connection }) {
  const { channel, connection } = props;
  const [name, setName] = useState(props.name);
  const online = usePresence(MessagePresence, channel, { payload: { displayName: name }, connection });
  const [heard, setHeard] = useState<string[]>([]);
  const send = useSignals(MessageSignals, channel, (s) => setHeard((h) => [...h, `${s.name}:${s.data.typing}`]), { connection });
  const typing = useTyping(channel, {
    connection,
    signal: { type: MessageSignals, encode: (on) => ({ typing: on }), decode: (t) => t.typing },
  });
  const names = online.members.map((m) => m.payload.displayName).sort();
  return createElement(
    "section",
    { "data-testid": props.name },
    createElement("p", { "data-testid": `${props.name}-online` }, names.join(",")),
    createElement("p", { "data-testid": `${props.name}-heard` }, heard.join(",")),
    createElement("p", { "data-testid": `${props.name}-typing` }, String(typing.typing.length)),
    createElement("button", { "data-testid": `${props.name}-rename`, onClick: () => setName(`${props.name} (away)`) }),
    createElement("button", { "data-testid": `${props.name}-signal`, onClick: () => void send({ typing: true }) }),
    createElement("button", { "data-testid": `${props.name}-type`, onClick: () => typing.setTyping(true) }),
    createElement("button", { "data-testid": `${props.name}-stop`, onClick: () => typing.setTyping(false) }),
  );
}

const text = (id: string) => screen.getByTestId(id).textContent;
const click = (id: string) => act(() => screen.getByTestId(id).click());
const until = { timeout: 5_000, interval: 10 };

describe("typed presence hooks against the Go chat server", () => {
  it("show decoded members, send and hear typed signals, and type in the declared signal", async () => {
    const channel = `Message?room_id=hooks-${Date.now()}`;
    render(
      createElement(
        "div",
        null,
        createElement(Room, { name: "ann", channel, connection: dial() }),
        createElement(Room, { name: "ben", channel, connection: dial() }),
      ),
    );
    await waitFor(() => expect(text("ann-online")).toBe("ann,ben"), until);
    await waitFor(() => expect(text("ben-online")).toBe("ann,ben"), until);

    // A typed payload change is sent at once.
    await click("ben-rename");
    await waitFor(() => expect(text("ann-online")).toBe("ann,ben (away)"), until);

    // A typed signal, named after its message; the sender does not hear it.
    await click("ben-signal");
    await waitFor(() => expect(text("ann-heard")).toBe("Typing:true"), until);
    expect(text("ben-heard")).toBe("");

    // useTyping speaks chat.v1.Typing: ann sees ben typing, then stopped.
    await click("ben-type");
    await waitFor(() => expect(text("ann-typing")).toBe("1"), until);
    await click("ben-stop");
    await waitFor(() => expect(text("ann-typing")).toBe("0"), until);
    expect(text("ben-typing")).toBe("0");
  });
});
