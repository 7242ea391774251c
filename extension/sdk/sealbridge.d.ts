// Types for extension/sdk/sealbridge.js

/** Stable error codes (formats/errors.py, by who acts; tests/test_error_codes.py keeps this list equal). */
export type ErrorCode =
  // user
  | "PIN_INCORRECT" | "PIN_LOCKED" | "PIN_INVALID" | "PASSWORD_INCORRECT" | "USER_CANCELLED"
  | "ORIGIN_NOT_ALLOWED" | "UNAUTHENTICATED" | "FORBIDDEN" | "RATE_LIMITED" | "BUSY" | "BATCH_NOT_REVIEWED"
  // document
  | "BAD_REQUEST" | "DOC_TOO_LARGE" | "DOC_MALFORMED" | "DOC_UNSUPPORTED" | "DOC_LOCKED" | "PLACEMENT_INVALID"
  | "NOT_FOUND" | "CONFLICT" | "FILE_NOT_FOUND" | "DOC_EMPTY" | "DOC_CHANGED" | "TRUST_ANCHOR_INVALID"
  // token
  | "TOKEN_ABSENT" | "TOKEN_ERROR" | "TOKEN_NOT_FOUND" | "KEY_NOT_FOUND" | "MECHANISM_UNSUPPORTED"
  | "TOKEN_LIBRARY_INVALID" | "CERT_INVALID" | "SEAL_NOT_FOUND" | "SEAL_VERSION_UNSUPPORTED" | "SEAL_INVALID" | "SEAL_NOT_FOR_SIGNER"
  // platform
  | "SEAL_REVOKED" | "SEAL_SUSPENDED" | "SEAL_EXPIRED" | "SEAL_NOT_YET_VALID" | "PLATFORM_UNREACHABLE"
  | "PLATFORM_RESPONSE_INVALID" | "TIMESTAMP_FAILED" | "TSA_UNREACHABLE" | "AUDIT_BROKEN" | "BATCH_MANIFEST_INVALID"
  // internal
  | "INTERNAL"
  // AGENT_UNAVAILABLE: the CLI and the extension when the agent is not running
  | "AGENT_UNAVAILABLE"
  // raised by the SDK or the extension itself, never by the agent
  | "EXTENSION_NOT_FOUND" | "TIMEOUT"
  | (string & {});

export declare class SealBridgeError extends Error {
  readonly code: ErrorCode;
  readonly messageZh: string;
  readonly messageEn: string;
  readonly detail?: string;
  /** Extra fields, e.g. {retries_left: 3} with PIN_INCORRECT. */
  readonly data?: Record<string, unknown>;
}

/** Millimetres, origin at the page's top-left corner; x, y name the seal's centre. */
export type Placement =
  | { type: "at"; page: number; x: number; y: number }
  | { type: "keyword"; text: string; nth?: number; dx?: number; dy?: number }
  | { type: "seam"; side?: "left" | "right" | "top" | "bottom"; pages?: string; offset?: number };

export type CheckStatus = "ok" | "failed" | "unknown";
export interface Check { status: CheckStatus; detail: string }

export interface SealReport {
  id: string;
  type: "seal" | "sign";
  verdict: "valid" | "invalid" | "indeterminate";
  signed_at: string | null;
  signer: { subject: string; serial: string; issuer?: string } | null;
  seal: { esID: string; name: string; version: number; picture_png_base64: string | null } | null;
  checks: Record<
    "integrity" | "signature" | "seal" | "signer_in_seal" | "certificate" | "platform_status" | "changes_after" | "timestamp",
    Check
  >;
}

export interface VerificationReport {
  format: "ofd" | "pdf";
  verdict: "valid" | "invalid" | "indeterminate" | "no_seals";
  seals: SealReport[];
}

/** A seal on an inserted key (metadata only; the agent never hands out keys or signs raw bytes for pages). */
export interface SealSummary {
  /** The seal's esID; pass it as `seal` to stamp() to preselect it. */
  id: string;
  esID?: string;
  name: string;
  kind?: string | null;
  version?: string | null;
  token_id: string;
  algorithm: "sm2" | "rsa" | "ecdsa";
  cert_subject?: string;
  cert_serial?: string;
  valid_from?: string | null;
  valid_to?: string | null;
  width_mm?: number | null;
  height_mm?: number | null;
  /** Who signs with it, as names (holder, company, certificate issuer). */
  holder?: string | null;
  company?: string | null;
  issuer?: string | null;
}

/** Progress of your own call, from the start: "start" at once (with the size), "receiving" and "uploading"
 * while the document travels to the agent, then the agent's phases with request_id (only the page that asked
 * receives them). */
export interface ProgressEvent {
  request_id?: string;
  phase: "start" | "receiving" | "uploading" | "approval" | "status" | "login" | "signing" | "sending" | "verifying";
  fraction?: number;
  size?: number;
}

/** Each fact on its own. `site`: "allowed" (no question), "ask" (the first call shows the user the site
 * prompt), "denied" (refused: by the user or the administrator). */
export interface DetectResult {
  installed: boolean;
  version: string | null;
  paired: boolean;
  agent: { connected: boolean; version?: string } | null;
  site: "allowed" | "ask" | "denied" | null;
  siteAllowed: boolean;
}

/** Without the extension every call rejects with EXTENSION_NOT_FOUND after this many milliseconds. */
export declare const EXTENSION_TIMEOUT_MS: number;

export interface StampRequest {
  document: Blob | ArrayBuffer | ArrayBufferView;
  name?: string;
  format?: "pdf" | "ofd";
  placements: Placement[];
  /** esID of the seal to preselect in the approval window. */
  seal?: string;
  reason?: string;
}

/** One document of a batch: its own placements, name and (optionally) its own seal. */
export interface BatchDocument {
  document: Blob | ArrayBuffer | ArrayBufferView;
  name?: string;
  placements: Placement[];
  /** esID of the seal for this document; the seal approved in the window stamps the others. */
  seal?: string;
}

export interface BatchOptions {
  /** esID of the seal to preselect in the batch window. */
  seal?: string;
  reason?: string;
  /** Each document as it starts ("signing") and ends ("stamped" / "failed" / "cancelled"). */
  onProgress?: (e: BatchProgressEvent) => void;
}

export interface BatchProgressEvent {
  request_id: string;
  /** The document's position in the array given to stampBatch(). */
  index: number;
  status: "signing" | "stamped" | "failed" | "cancelled";
  error?: { code: ErrorCode; message_zh: string; message_en: string; detail?: string };
}

export interface BatchDocumentResult {
  index: number;
  name: string | null;
  /** "excluded": the user unticked it in the window; "failed": unreadable or refused (see `error`). */
  status: "stamped" | "failed" | "cancelled" | "excluded";
  /** The stamped document, only when status is "stamped". */
  document: Blob | null;
  error: SealBridgeError | null;
  sm3Before: string | null;
  sm3After: string | null;
}

export interface BatchResult {
  /** Names the batch in the agent's audit log (`sealbridge audit show-batch ID`). */
  batchId: string;
  auditSeq: number;
  /** SM3 of the signed batch manifest (canonical JSON) stored in the audit log. */
  manifestSm3: string;
  results: BatchDocumentResult[];
}

/** A USB key plugged in or pulled out (only pages on allowed sites receive these). */
export interface TokenEvent { type: "inserted" | "removed"; token: string; label?: string }

export interface SealBridgeClient {
  detect(): Promise<DetectResult>;
  stamp(req: StampRequest): Promise<{ document: Blob; report: VerificationReport | null }>;
  /** Up to 100 documents, one approval window, one PIN. Rejects only when the whole batch fails (e.g.
   * USER_CANCELLED before approval, DOC_TOO_LARGE); per-document failures are in `results`. */
  stampBatch(documents: BatchDocument[], opts?: BatchOptions): Promise<BatchResult>;
  verify(document: Blob | ArrayBuffer | ArrayBufferView, opts?: { name?: string }): Promise<VerificationReport>;
  listSeals(): Promise<SealSummary[]>;
  on(event: "token", cb: (e: TokenEvent) => void): () => void;
  on(event: "progress", cb: (e: ProgressEvent) => void): () => void;
  on(event: "batch", cb: (e: BatchProgressEvent) => void): () => void;
}

export declare function createClient(win?: Window, opts?: { timeoutMs?: number }): SealBridgeClient;
export declare const SDK_VERSION: string;
export declare const SealBridge: SealBridgeClient;
export default SealBridge;
