// The ssot-ws TypeScript runtime: the DataClient contract, its HTTP,
// WebSocket and hybrid implementations. React hooks live in ./react.js so
// that non-React users do not need React.

export type { Token, TokenInfo, TokenProvider, TokenReason, TokenRequest, TokenResult } from "./auth.js";
export {
  callProvider,
  createAuthInterceptor,
  headerAuthorization,
  normalizeToken,
  refreshAt,
  refreshLead,
  refreshLeadMaxMs,
  tokenExpiredMessage,
} from "./auth.js";
export type { Change, ChangeType, CacheCodec, CacheResult, Held, Snapshot, Verified, Verify } from "./cache.js";
export { ChannelCache, verifyWindowMs } from "./cache.js";
export type { DataClient, Fields, Init, ListPage, ListParams } from "./client.js";
export type {
  CallOpts,
  Fetched,
  HttpClient,
  HttpClientOptions,
  RetryOptions,
} from "./http.js";
export {
  createHttpClient,
  formatPosition,
  headerChannel,
  headerIdempotencyKey,
  headerPosition,
  isRetryable,
  newRequestId,
  parsePosition,
} from "./http.js";
export type { ChannelOptions, SubscribeOptions } from "./channel.js";
export type { ClientOptions } from "./options.js";
export { SubscribeError, SubscriptionError } from "./channel.js";
export type { HybridClient, HybridOptions } from "./hybrid.js";
export { createHybridClient } from "./hybrid.js";
export type { ConnectionLogger } from "./conn_log.js";
export { closeMeaning, dropReason } from "./conn_log.js";
export type { WebSocketClient, WebSocketOptions } from "./websocket.js";
export { ErrNotCached, ErrUnsupported, createWebSocketClient } from "./websocket.js";
export type {
  ChannelName,
  CreateMethod,
  DeleteMethod,
  GetMethod,
  Key,
  KeyKind,
  KeyOf,
  ListMethod,
  ModelDescriptor,
  ModelMethods,
  UpdateMethod,
} from "./model.js";
export {
  defineModel,
  formatScalar,
  itemChannel,
  modelChannel,
  parseChannel,
  parseKey,
  pathEscape,
  pathUnescape,
  queryEscape,
  queryUnescape,
  scopeChannel,
} from "./model.js";
export { hasParent, parentOf, parentScope } from "./resourcename.js";
export type {
  BackoffOptions,
  ChannelSink,
  CloseInfo,
  Connection,
  ConnectionOptions,
  ConnectionState,
  EnvironmentLike,
  WebSocketCtor,
  WebSocketLike,
} from "./conn.js";
export type { JoinOptions, Member, Presence, Signal, SignalOptions } from "./presence.js";
export { SignalError } from "./presence.js";
export type {
  PresenceType,
  SignalsType,
  TypedJoinOptions,
  TypedMember,
  TypedPresence,
  TypedSignal,
} from "./presence_typed.js";
export { definePresence, defineSignals } from "./presence_typed.js";
export {
  CloseCode,
  authSubprotocolPrefix,
  backoffDelay,
  createConnection,
  subprotocol,
  tokenSubprotocol,
} from "./conn.js";
export type { Validation, Violation } from "./validation.js";
export { ValidationError, fieldErrors } from "./validation.js";
export type { Event, Position } from "../gen/ssot/ws/v1/frame_pb.js";
export { ErrorCode, EventType } from "../gen/ssot/ws/v1/frame_pb.js";
