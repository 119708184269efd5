// The chat example's web page: one Connect transport and one shared
// WebSocket connection for the whole app, served by the example's Go server
// (Connect at /chat.v1.ChatService/…, the gateway at /ws).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createConnection } from "@ssot-ws/runtime";
import { SsotProvider } from "@ssot-ws/runtime/react";
// The buf.validate rules of chat.proto, checked before a write is sent
// (and the server's violations read back) with @bufbuild/protovalidate.
import { protovalidate } from "@ssot-ws/runtime/validate";
import { App } from "./App.js";

const transport = createConnectTransport({ baseUrl: location.origin });
const connection = createConnection({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
});

const validation = protovalidate();

const root = document.getElementById("root");
if (!root) throw new Error("chat: no #root element");
createRoot(root).render(
  <StrictMode>
    <SsotProvider transport={transport} connection={connection} validation={validation}>
      <App />
    </SsotProvider>
  </StrictMode>,
);
