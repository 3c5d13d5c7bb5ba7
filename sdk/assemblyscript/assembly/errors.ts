// errors.ts - the ABI's error codes, the SDK's own, and the last failure's
// message. Every SDK call that can fail returns 0 (or a non-negative id) on
// success and a negative code (-E_...) on failure; lastError() then gives
// the message.

export const OK: i32 = 0;
export const E_MEMORY: i32 = 1;
export const E_DECODE: i32 = 2;
export const E_INVALID: i32 = 3;
export const E_DENIED: i32 = 4;
export const E_NOT_FOUND: i32 = 5;
export const E_TOO_LARGE: i32 = 6;
export const E_FULL: i32 = 7;
export const E_RATE: i32 = 8;
export const E_UNAVAILABLE: i32 = 9;
export const E_NO_RESPONSE: i32 = 10;
export const E_INTERNAL: i32 = 11;
export const E_UNSUPPORTED: i32 = 12;

/**
 * The SDK's own code, not the host's: the shadow service answered and
 * rejected the request (a ShadowResult's status says why: 404, 409, ...).
 * Codes from 100 up are found on the guest's side, as in the C SDK.
 */
export const E_REJECTED: i32 = 103;

const codeNames: string[] = [
  "OK", "E_MEMORY", "E_DECODE", "E_INVALID", "E_DENIED", "E_NOT_FOUND", "E_TOO_LARGE",
  "E_FULL", "E_RATE", "E_UNAVAILABLE", "E_NO_RESPONSE", "E_INTERNAL", "E_UNSUPPORTED",
];

/** The name of an error code (positive or negative): "E_NOT_FOUND". */
export function codeName(code: i32): string {
  const c = code < 0 ? -code : code;
  if (c == E_REJECTED) return "E_REJECTED";
  return c < codeNames.length ? codeNames[c] : "E_" + c.toString();
}

let lastErr: string = "";
let lastCode: i32 = 0;

/** The message of the last failure of an SDK call. */
export function lastError(): string {
  return lastErr;
}

/** The code (negative) of the last failure of an SDK call. */
export function lastErrorCode(): i32 {
  return lastCode;
}

/** Records a failure for lastError (the SDK's modules call it): the code, negative. */
export function setError(code: i32, msg: string): i32 {
  lastErr = msg;
  lastCode = code < 0 ? code : -code;
  return lastCode;
}
