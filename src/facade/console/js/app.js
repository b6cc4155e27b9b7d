// The console's shell: sign in with a token, find out who it is (GET /v1/accounts), and route
// the hash (#/topology, #/appliances, #/appliance/NAME?account=A, #/create, #/billing,
// #/events) to its page. A page may return a stop function (its polling), called when it is
// left. A 401 anywhere signs the page out and says why.

import { call, describe, forget, keep, onSignOut, token } from "./api.js";
import { byId, esc } from "./dom.js";
import * as topology from "./topology.js";
import { showList, showOne } from "./appliance.js";
import * as create from "./create.js";
import { showBilling, showEvents } from "./records.js";

/** @typedef {{name: string, operator: boolean}} Me */

/** @type {Me | null} */
let me = null;
/** @type {(() => void) | void} */
let stop;

const PAGES = [["topology", "Topology"], ["appliances", "Appliances"], ["create", "Create"],
  ["billing", "Billing"], ["events", "Events"]];

/** The sign-in form, with why the last session ended if it did.
 * @param {string} [why]
 */
function signInPage(why = "") {
  if (stop) stop();
  stop = undefined;
  me = null;
  byId("app").innerHTML = `<main class="signin"><h1>Facade console</h1>
    <form id="signin" class="form"><label>Token <input id="token" type="password"
      autocomplete="off" required></label><button type="submit">Sign in</button></form>
    <p id="signin-msg" class="${why ? "error" : ""}" role="alert">${esc(why)}</p>
    <p class="muted">An account's token (facade account token NAME) or the operator's.
      It is kept for this tab only.</p></main>`;
  byId("token").focus();
  byId("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    keep(/** @type {HTMLInputElement} */ (byId("token")).value.trim());
    await start();
  });
}

/** Who the token is: the operator sees every account (its own marked), an account itself. */
async function start() {
  try {
    const page = await call("GET", "/v1/accounts?limit=1000");
    /** @type {Me[]} */
    const accounts = page.items;
    me = accounts.find((a) => a.operator) ?? accounts[0] ?? null;
  } catch (err) {
    forget();
    signInPage(describe(err));
    return;
  }
  if (!me) { signInPage("this token sees no account"); return; }
  byId("app").innerHTML = `<header><span class="brand">Facade</span><nav aria-label="pages">
    ${PAGES.map(([id, title]) => `<a href="#/${id}" data-page="${id}">${title}</a>`).join("")}
    </nav><span class="who">signed in as <b id="who">${esc(me.name)}</b>
    ${me.operator ? "(operator)" : ""} <button type="button" id="signout">Sign out</button>
    </span></header><main id="page"></main>`;
  byId("signout").addEventListener("click", () => { forget(); signInPage(); });
  if (!location.hash || location.hash === "#/") location.hash = "#/topology";
  else route();
}

function route() {
  if (!me) return;
  if (stop) stop();
  stop = undefined;
  const [path, q = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page, ...rest] = path.split("/");
  const query = new URLSearchParams(q);
  const root = byId("page");
  for (const a of document.querySelectorAll("header nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("data-page") === page ||
      (page === "appliance" && a.getAttribute("data-page") === "appliances"));
  }
  const mine = me;
  const fail = (/** @type {unknown} */ err) => {
    root.innerHTML = `<p class="error">${esc(describe(err))}</p>`;
  };
  if (page === "appliances") stop = showList(root);
  else if (page === "appliance") stop = showOne(root, decodeURIComponent(rest.join("/")), query);
  else if (page === "create") create.show(root, { ...mine }).catch(fail);
  else if (page === "billing") showBilling(root, mine).catch(fail);
  else if (page === "events") stop = showEvents(root);
  else stop = topology.show(root);
  document.title = `Facade · ${page || "topology"}`;
}

onSignOut((message) => signInPage(`signed out: ${message}`));
window.addEventListener("hashchange", route);
if (token()) void start(); else signInPage();
