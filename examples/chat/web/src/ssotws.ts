// The one place the page imports ssot-ws from: the generated runtime
// and model descriptors.
export { createConnection } from "../../../../ts/src/runtime/index.js";
export { SsotProvider, useClient, useConnectionState, useList } from "../../../../ts/src/runtime/react.js";
export { MessageModel, RoomModel } from "./models.js";
export type { Message, Room } from "./models.js";
