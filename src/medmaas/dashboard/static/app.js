// The dashboard's shell: sign-in, the API client and the hash router (#/, #/models/NAME, #/audit).
// The API key lives in this module's memory only: not in localStorage, sessionStorage or a cookie,
// so reloading or closing the tab signs out and no other page or script can read it.
import { el, show } from "/ui/dom.js";
import { auditView, catalogView, forbiddenView, modelView } from "/ui/views.js";

const main = document.getElementById("main");
let session = null; // { key, me: {key_id, name, role, project, permissions} }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Calls the REST API with the key. A 401 signs out; other errors come back as ApiError with the
// server's message (which says what was wrong, and where).
export async function api(path, { method = "GET", json, body, headers = {}, as = "json" } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${session?.key}`, ...headers } };
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
  else if (body !== undefined) init.body = body;
  const response = await fetch(path, init);
  // Signed in and the key stopped working (revoked, expired): back to the sign-in page.
  if (response.status === 401 && session?.me) { signOut("Your key is no longer valid; sign in again."); throw new ApiError(401, "signed out"); }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    // REST errors say {"error": …}; FHIR's are OperationOutcomes.
    try { const body = await response.json(); message = body.error ?? body.issue?.[0]?.diagnostics ?? message; } catch { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  if (as === "blob") return response.blob();
  if (as === "text") return response.text();
  return response.status === 204 ? null : response.json();
}

export const may = (action) => Boolean(session?.me.permissions.includes(action));

function signInView(notice) {
  const error = el("p", { class: "error", id: "key-error", role: "alert" });
  const input = el("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true,
                              spellcheck: "false", "aria-describedby": "key-hint key-error" });
  const submit = el("button", { type: "submit" }, "Sign in");
  const form = el("form", { class: "panel signin", "aria-labelledby": "signin-title", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true; error.textContent = "";
    const key = input.value.trim();
    try {
      session = { key, me: null };
      session.me = await api("/v1/me");
      input.value = "";
      signedIn();
    } catch (exc) {
      session = null;
      error.textContent = exc.status === 401 || exc.status === 403 ? "That key is not valid here." : exc.message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally { submit.disabled = false; }
  } },
    el("h1", { id: "signin-title" }, "Sign in to medmaas"),
    notice ? el("p", { class: "notice" }, notice) : null,
    el("label", { for: "key" }, "API key"),
    el("span", { class: "hint", id: "key-hint" },
       "Your key (mm_…) from your administrator, or the bootstrap key printed at the first start. ",
       "It is kept in this tab's memory only."),
    input, error, submit);
  show(main, form);
  input.focus();
}

function signedIn() {
  const { me } = session;
  document.getElementById("who-text").textContent = `${me.name} · ${me.role} · project ${me.project}`;
  document.getElementById("who").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-audit").hidden = !may("audit:read");
  route();
}

function signOut(notice) {
  session = null;
  document.getElementById("who").hidden = true;
  document.getElementById("nav").hidden = true;
  signInView(notice);
}

async function route() {
  if (!session?.me) return signInView();
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const model = hash.match(/^\/models\/([^/]+)$/);
  const ctx = { main, api, may, me: session.me };
  try {
    if (model) await modelView(ctx, model[1]);
    else if (hash === "/audit") await (may("audit:read") ? auditView(ctx) : forbiddenView(ctx, "the audit trail", "audit:read"));
    else await catalogView(ctx);
  } catch (exc) {
    if (exc.status === 403) forbiddenView(ctx, "this page", exc.message);
    else if (exc.status !== 401) show(main, el("h1", {}, "Something went wrong"), el("p", { class: "error", role: "alert" }, exc.message));
  }
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
signInView();
