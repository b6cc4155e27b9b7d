// The create form: an appliance of a visible service in one of the caller's subnets (any
// account's for the operator, who creates it for that account), with a backend count; on
// success the appliance's page, which shows it become ready.

import { all, call, describe } from "./api.js";
import { byId, esc } from "./dom.js";
import { pageOf } from "./appliance.js";

/** @param {HTMLElement} root @param {{name: string, operator: boolean}} me */
export async function show(root, me) {
  root.innerHTML = `<h1>Create an appliance</h1><p id="create-msg" role="status"></p>
    <form id="create" class="form">
      <label>Name <input id="c-name" required pattern="[a-z][a-z0-9\\-]{0,39}"
        placeholder="docs"></label>
      <label>Service <select id="c-service" required></select></label>
      <label>Subnet <select id="c-subnet" required></select></label>
      <label>Backends <input id="c-backends" type="number" min="1" max="256" value="2"
        required></label>
      <button type="submit">Create</button>
    </form>`;
  const msg = byId("create-msg");
  try {
    const [services, subnets] = await Promise.all([all("/v1/services"), all("/v1/subnets")]);
    const mine = subnets.filter((s) => me.operator || s.account === me.name);
    byId("c-service").innerHTML = services.map((s) => `<option value="${esc(`${s.account}/${s.name}`)}">` +
      `${esc(s.account)}/${esc(s.name)} (port ${esc(s.port)})</option>`).join("");
    byId("c-subnet").innerHTML = mine.map((s) => `<option value="${esc(`${s.account}|${s.name}`)}">` +
      `${esc(me.operator ? `${s.account}/` : "")}${esc(s.name)} ${esc(s.cidr)}</option>`).join("");
    if (!services.length || !mine.length) {
      msg.textContent = !services.length ? "No service is offered yet." : "You have no subnet yet.";
    }
  } catch (err) {
    msg.textContent = describe(err);
    msg.className = "error";
  }
  byId("create").addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value;
    const [account, subnet] = value("c-subnet").split("|");
    const body = { name: value("c-name"), service: value("c-service"), subnet,
      backends: Number(value("c-backends")), account };
    try {
      const app = await call("POST", "/v1/appliances", body);
      location.hash = pageOf(app);
    } catch (err) {
      msg.textContent = describe(err);
      msg.className = "error";
    }
  });
}
