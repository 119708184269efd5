// Uses the generated TypeScript of the golden cases the way an application
// would, so that tsc (go test ./internal/gen -run TestTSCheck) checks the
// types they hand out, not only that they compile. Hand-written.
import { createConnectTransport } from "@connectrpc/connect-web";
import { createConnection } from "@ssot-ws/runtime";
import type { HybridClient } from "@ssot-ws/runtime";
import { MessageChannels, createMessageClient } from "./chat/v1/chat_ssotws.js";
import type { Message } from "./chat/v1/chat_pb.js";
import { TicketChannels, TicketModel, createTicketClient } from "./intkey/v1/intkey_ssotws.js";
import { Status } from "./intkey/v1/intkey_pb.js";
import { createBookClient, createShelfClient } from "./library/v1/library_ssotws.js";
import { createNoteClient } from "./httponly/v1/httponly_ssotws.js";
import { NotificationChannels } from "./auto/v1/auto_ssotws.js";

export async function use(): Promise<void> {
  const transport = createConnectTransport({ baseUrl: "http://localhost:8080" });
  const connection = createConnection({ url: "ws://localhost:8080/ws" });

  const messages: HybridClient<Message, string> = createMessageClient({ transport, connection });
  const off = messages.subscribe(MessageChannels.room("r1"), (change) => {
    const text: string = change.value?.text ?? "";
    void text;
  });
  await messages.create({ roomId: "r1", text: "hi" });
  off();

  const tickets = createTicketClient({ transport });
  const ticket = await tickets.get(42n);
  const id: bigint | undefined = ticket?.id;
  void id;
  void TicketChannels.item(42n), TicketChannels.queue(7), TicketChannels.status(Status.OPEN);
  const keyKind: "string" | "bigint" | "number" = TicketModel.keyKind;
  void keyKind;

  const shelves = createShelfClient({ transport });
  await shelves.list({ pageSize: 10 });
  const books = createBookClient({ transport, connection });
  await books.update("shelves/1/books/2", { title: "Odes" }, ["title"]);
  const notes: HybridClient<import("./httponly/v1/httponly_pb.js").Note, string> = createNoteClient({
    transport,
    retry: { attempts: 1 },
  });
  await notes.delete("n1");
  void NotificationChannels.user("u1");
  connection.close();
}
