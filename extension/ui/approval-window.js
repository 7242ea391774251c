// What both approval windows (one document, a batch) share: the message line, the end state, the key events
// and the service-worker connection that delivers them.
import { connectWorker, errorText, t } from "./common.js";

const $ = (id) => document.getElementById(id);

/** A line under the form: an error (the default) or information. */
export function setMessage(text, kind = "error") {
  $("message").className = `message ${kind}`;
  $("message").textContent = text;
}

/** The request failed for good: keep the reason on screen, leave only "close". */
export function endWindow() {
  document.body.dataset.state = "ended";
  for (const id of ["approve", "pin", "seal"]) $(id).disabled = true;
  $("cancel").textContent = t("closeButton");
}

/** A wrong PIN says how many tries are left; anything else is the error's own text. */
export function pinErrorText(e) {
  if (e.code === "PIN_INCORRECT" && e.retries_left !== undefined) return t("pinRetriesLeft", String(e.retries_left));
  return errorText(e);
}

/**
 * Connect to the service worker. A key pulled or plugged while the window is open is said on the message line,
 * then `onToken(data)` runs (to refresh the seals offered); the request closing elsewhere ends the window.
 * `currentRequest()` gives the request id, which a window opened early learns only later.
 */
export function connectApprovalWorker(currentRequest, onToken) {
  return connectWorker((event, data) => {
    if (event === "token") {
      const removed = data.type === "removed";
      setMessage(removed ? t("tokenRemoved", data.label ?? data.token ?? "") : t("tokenInserted", data.label ?? ""), removed ? "error" : "info");
      onToken(data);
    } else if (event === "approval.closed" && data.request_id === currentRequest()) endWindow();
  });
}
