// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { createElement } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHybridClient } from "../runtime/src/hybrid.js";
import type { HybridClient } from "../runtime/src/hybrid.js";
import { SsotProvider, useConnectionState, useGet, useList, useWrite } from "../runtime/src/react.js";
import type { Source } from "../runtime/src/react.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { ChatService } from "./gen/chat/v1/chat_pb.js";
import { FakeBackend, FakeWebSocket, MessageModel } from "./fake.js";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { protovalidate } from "../runtime/src/validate.js";
import type { Validation } from "../runtime/src/validation.js";

let backend: FakeBackend;
let conn: Connection;
let client: HybridClient<Message, string>;
let renders = 0;

function setup() {
  backend = new FakeBackend();
  FakeWebSocket.onCreate = (ws) => {
    backend.attach(ws);
    queueMicrotask(() => ws.serverOpen());
  };
  conn = createConnection({ url: "ws://test/ws", WebSocket: FakeWebSocket, backoff: { baseMs: 5, capMs: 5 } });
  client = createHybridClient(MessageModel, { transport: backend.transport, connection: conn });
}

function Room(props: { source: Source<Message, string>; room: string; subscribe?: boolean; flushMs?: number }) {
  renders++;
  const opts = props.subscribe === undefined ? {} : { subscribe: props.subscribe, flushMs: props.flushMs ?? 100 };
  const { items, loading, live } = useList(props.source, { filter: { roomId: props.room } }, opts);
  return createElement(
    "div",
    { "data-testid": "room", "data-loading": String(loading), "data-live": String(live) },
    items.map((m) => createElement("p", { key: m.id }, m.text)),
  );
}

function State() {
  return createElement("span", { "data-testid": "state" }, useConnectionState());
}

function One(props: { id: string | undefined }) {
  const { data, loading } = useGet(client, props.id, { subscribe: true, flushMs: 10 });
  return createElement("span", { "data-testid": "one" }, loading ? "…" : (data?.text ?? "none"));
}

const shown = () => Array.from(screen.getByTestId("room").querySelectorAll("p"), (p) => p.textContent);

beforeEach(() => {
  FakeWebSocket.reset();
  renders = 0;
});
afterEach(() => {
  cleanup();
  conn?.close();
});

// The flush interval of the burst test: long enough that a slow machine
// still delivers the whole burst within it.
const FLUSH = 1000;

describe("hooks", () => {
  it("batch a burst of 50 events into one render", async () => {
    setup();
    backend.put({ roomId: "r1", text: "first" });
    render(createElement(Room, { source: client, room: "r1", subscribe: true, flushMs: FLUSH }));
    await waitFor(() => expect(screen.getByTestId("room").dataset["live"]).toBe("true"), { timeout: 3000 });
    expect(shown()).toEqual(["first"]);
    const before = renders;
    const calls = backend.calls["listMessages"];

    // 50 events arriving over time, each in its own WebSocket message, as
    // a burst does: each is applied to the cache as it comes, the component
    // renders once.
    await act(async () => {
      for (let i = 0; i < 50; i++) {
        backend.put({ roomId: "r1", text: `m${i}` });
        await new Promise((r) => setTimeout(r, 1));
      }
    });
    await waitFor(() => expect(shown()).toHaveLength(51), { timeout: 3000 });
    expect(renders - before).toBe(1);
    expect(shown().at(-1)).toBe("m49");
    expect(backend.calls["listMessages"]).toBe(calls); // served by the cache

    // Another burst after the flush: one more render.
    act(() => {
      for (let i = 0; i < 5; i++) backend.put({ roomId: "r1", text: `n${i}` });
    });
    await waitFor(() => expect(shown()).toHaveLength(56), { timeout: 3000 });
    expect(renders - before).toBe(2);
  });

  it("work HTTP-only without subscribe, and without a WebSocket at all", async () => {
    backend = new FakeBackend();
    backend.put({ roomId: "r1", text: "hello" });
    const httpOnly = createHybridClient(MessageModel, { transport: backend.transport });
    render(
      createElement(
        SsotProvider,
        { transport: backend.transport },
        createElement(Room, { source: MessageModel, room: "r1", subscribe: true }),
        createElement(State),
      ),
    );
    await waitFor(() => expect(shown()).toEqual(["hello"]));
    expect(screen.getByTestId("state").textContent).toBe("unavailable");
    expect(screen.getByTestId("room").dataset["live"]).toBe("false");
    cleanup();

    render(createElement(Room, { source: httpOnly, room: "r1" }));
    await waitFor(() => expect(shown()).toEqual(["hello"]));
    backend.put({ roomId: "r1", text: "later" });
    await new Promise((r) => setTimeout(r, 150));
    expect(shown()).toEqual(["hello"]); // not subscribed: no refresh
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("expose the connection state through the provider", async () => {
    setup();
    render(
      createElement(
        SsotProvider,
        { transport: backend.transport, connection: conn },
        createElement(State),
        createElement(Room, { source: MessageModel, room: "r1", subscribe: true }),
      ),
    );
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("open"));
    act(() => backend.cut(FakeWebSocket.last()));
    expect(screen.getByTestId("state").textContent).toBe("reconnecting");
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("open"));
    expect(FakeWebSocket.instances).toHaveLength(2);
    act(() => conn.close());
    expect(screen.getByTestId("state").textContent).toBe("closed");
  });

  it("useConnectionState shows the terminal unauthenticated state, and the way back", async () => {
    backend = new FakeBackend();
    let refuse = false;
    let n = 0;
    FakeWebSocket.onCreate = (ws) => {
      backend.attach(ws);
      // A refused handshake: the gateway accepts, then closes with 4401 before answering.
      queueMicrotask(() => (refuse ? (ws.serverOpen(), ws.serverClose(4401, "unauthenticated")) : ws.serverOpen()));
    };
    conn = createConnection({ url: "ws://test/ws", WebSocket: FakeWebSocket, getToken: async () => `t${++n}` });
    render(
      createElement(
        SsotProvider,
        { transport: backend.transport, connection: conn },
        createElement(State),
        createElement(Room, { source: MessageModel, room: "r1", subscribe: true }),
      ),
    );
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("open"));
    await waitFor(() => expect(screen.getByTestId("room").dataset["live"]).toBe("true"));
    refuse = true;
    act(() => FakeWebSocket.last().serverClose(4401, "revoked"));
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("unauthenticated"));
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(conn.lastError?.code).toBe(4401);
    await new Promise((r) => setTimeout(r, 50));
    expect(FakeWebSocket.instances).toHaveLength(2); // no more dials

    refuse = false; // signed in again
    act(() => conn.reconnect());
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("open"));
    await waitFor(() => expect(screen.getByTestId("room").dataset["live"]).toBe("true"));
    expect(n).toBe(3);
  });

  it("useGet follows one record", async () => {
    setup();
    const m = backend.put({ roomId: "r1", text: "v1" });
    render(createElement(One, { id: m.id }));
    await waitFor(() => expect(screen.getByTestId("one").textContent).toBe("v1"));
    await waitFor(() => expect(client.isLive(`Message/${m.id}`)).toBe(true));
    act(() => void backend.put({ id: m.id, roomId: "r1", text: "v2" }));
    await waitFor(() => expect(screen.getByTestId("one").textContent).toBe("v2"));
    act(() => backend.remove(m.id));
    await waitFor(() => expect(screen.getByTestId("one").textContent).toBe("none"));
  });
});

// Compose is a form over useWrite: the text's field errors under it.
function Compose(props: { text: string }) {
  const w = useWrite(MessageModel);
  return createElement(
    "div",
    null,
    createElement("button", { onClick: () => void w.create({ roomId: "r1", text: props.text }) }, "send"),
    createElement("span", { "data-testid": "text-error" }, (w.fieldErrors["text"] ?? []).join("; ")),
    createElement("span", { "data-testid": "error" }, w.error ? String((w.error as Error).name) : ""),
  );
}

function compose(transport: Transport, validation: Validation, text: string) {
  return render(createElement(SsotProvider, { transport, validation }, createElement(Compose, { text })));
}

describe("useWrite", () => {
  const tooLong = "x".repeat(4097);

  it("shows the violations per field, found before sending, and clears them after a valid write", async () => {
    backend = new FakeBackend();
    const view = compose(backend.transport, protovalidate(), tooLong);
    act(() => screen.getByText("send").click());
    await waitFor(() => expect(screen.getByTestId("text-error").textContent).toBe("must be at most 4096 bytes"));
    expect(screen.getByTestId("error").textContent).toBe("ValidationError");
    expect(backend.calls["createMessage"]).toBeUndefined(); // nothing was sent

    view.rerender(createElement(SsotProvider, { transport: backend.transport, validation: protovalidate() }, createElement(Compose, { text: "hi" })));
    act(() => screen.getByText("send").click());
    await waitFor(() => expect(backend.calls["createMessage"]).toBe(1));
    await waitFor(() => expect(screen.getByTestId("text-error").textContent).toBe(""));
    expect(screen.getByTestId("error").textContent).toBe("");
  });

  it("shows the violations the server returned", async () => {
    const refusing = createRouterTransport(({ service }) => {
      service(ChatService, {
        createMessage() {
          const detail = create(ViolationsSchema, {
            violations: [{ field: { elements: [{ fieldName: "text", fieldNumber: 4 }] }, ruleId: "string.max_bytes", message: "must be at most 4096 bytes" }],
          });
          throw new ConnectError("validation error", Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: detail }]);
        },
      });
    });
    compose(refusing, { ...protovalidate(), check: () => [] }, tooLong);
    act(() => screen.getByText("send").click());
    await waitFor(() => expect(screen.getByTestId("text-error").textContent).toBe("must be at most 4096 bytes"));
  });
});
