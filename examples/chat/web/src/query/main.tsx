// The chat page on connect-query (served at /query/): the same page as
// ../main.tsx, but its reads and writes are connect-query's useQuery and
// useMutation (TanStack Query), made live by @ssot-ws/runtime/query: the
// QueryClient's List and Get queries of realtime models are patched from
// the one shared WebSocket, their call sites unchanged.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TransportProvider } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createConnection } from "@ssot-ws/runtime";
import { createLiveQueries } from "@ssot-ws/runtime/query";
import { SsotProvider } from "@ssot-ws/runtime/react";
import { MessageModel, RoomModel } from "../gen/chat/v1/chat_ssotws.js";
import { App, LiveContext } from "./App.js";

const transport = createConnectTransport({ baseUrl: location.origin });
const connection = createConnection({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
});
const queryClient = new QueryClient();
// The one line that makes the app's queries live: connect-query gets
// live.transport instead of transport.
const live = createLiveQueries({ queryClient, transport, connection, models: [RoomModel, MessageModel] });

const root = document.getElementById("root");
if (!root) throw new Error("chat: no #root element");
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TransportProvider transport={live.transport}>
        <SsotProvider connection={connection}>
          <LiveContext.Provider value={live}>
            <App />
          </LiveContext.Provider>
        </SsotProvider>
      </TransportProvider>
    </QueryClientProvider>
  </StrictMode>,
);
