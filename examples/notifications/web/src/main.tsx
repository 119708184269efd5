// The notifications example's web page. The user signs in first (a DEV
// TOKEN, see App.tsx); then one Connect transport and one shared WebSocket
// connection, both carrying that token, serve the whole page.
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createAuthInterceptor, createConnection } from "@ssot-ws/runtime";
import { SsotProvider } from "@ssot-ws/runtime/react";
import { App, SignIn, devToken, storedUser } from "./App.js";

function Root() {
  const [user, setUser] = useState(storedUser);
  const deps = useMemo(() => {
    if (user === "") return undefined;
    const getToken = () => devToken(user);
    return {
      transport: createConnectTransport({ baseUrl: location.origin, interceptors: [createAuthInterceptor(getToken)] }),
      connection: createConnection({
        url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
        getToken,
      }),
    };
  }, [user]);
  if (deps === undefined) return <SignIn onSignIn={setUser} />;
  return (
    <SsotProvider transport={deps.transport} connection={deps.connection}>
      <App user={user} />
    </SsotProvider>
  );
}

const root = document.getElementById("root");
if (!root) throw new Error("notifications: no #root element");
createRoot(root).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
