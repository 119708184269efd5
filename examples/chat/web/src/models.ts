// TEMPORARY: hand-written descriptors until `lang=ts` generates
// src/gen/chat/v1/chat_ssotws.ts. Delete this file then.
import { defineModel } from "../../../../ts/src/runtime/index.js";
import { ChatService, MessageSchema, RoomSchema } from "../../../../ts/test/gen/chat/v1/chat_pb.js";
import type { Message, Room } from "../../../../ts/test/gen/chat/v1/chat_pb.js";

export type { Message, Room };

export const RoomModel = defineModel<Room, string>({
  name: "Room",
  schema: RoomSchema,
  service: ChatService,
  key: "id",
  keyKind: "string",
  version: "version",
  scopes: [],
  methods: {
    get: { method: "getRoom", keyField: "id" },
    list: {
      method: "listRooms",
      itemsField: "rooms",
      nextPageTokenField: "next_page_token",
      pageSizeField: "page_size",
      pageTokenField: "page_token",
    },
    create: { method: "createRoom", modelField: "room" },
    update: { method: "updateRoom", modelField: "room", maskField: "update_mask" },
    delete: { method: "deleteRoom", keyField: "id" },
  },
  realtime: true,
});

export const MessageModel = defineModel<Message, string>({
  name: "Message",
  schema: MessageSchema,
  service: ChatService,
  key: "id",
  keyKind: "string",
  version: "version",
  scopes: ["room_id"],
  methods: {
    get: { method: "getMessage", keyField: "id" },
    list: {
      method: "listMessages",
      itemsField: "messages",
      nextPageTokenField: "next_page_token",
      pageSizeField: "page_size",
      pageTokenField: "page_token",
    },
    create: { method: "createMessage", modelField: "message" },
    update: { method: "updateMessage", modelField: "message", maskField: "update_mask" },
    delete: { method: "deleteMessage", keyField: "id" },
  },
  realtime: true,
});
