// The pages: the model catalog, a model (card, plots, versions, try it), the audit trail, and
// the page shown when the key's role may not see something.
import { el, fmt, headline, show, stage, table, when } from "/ui/dom.js";
import { tryItPanel } from "/ui/tryit.js";

export async function catalogView({ main, api }) {
  const { models, building } = await api("/v1/models");
  const rows = models.map((m) => [
    el("a", { href: `#/models/${encodeURIComponent(m.name)}` }, m.name),
    m.kind, m.task,
    m.production_version ? `v${m.production_version}` : el("span", { class: "hint" }, "none yet"),
    headline(m.headline),
    when(m.updated_at || m.created_at),
  ]);
  show(main,
    el("h1", {}, "Models"),
    models.length ? table(`${models.length} model${models.length === 1 ? "" : "s"} in this project`,
      ["Model", "Kind", "Task", "In production", "Key metric (hold-out)", "Last change"], rows)
      : el("p", {}, "No models yet. Train one with `medmaas train`, or wait for the built-in models."),
    building.length ? el("section", { "aria-labelledby": "building" },
      el("h2", { id: "building" }, "Being built"),
      el("ul", {}, building.map((job) => el("li", {}, `${job.model_name ?? job.name}: ${job.message} (${Math.round(job.progress * 100)}%)`))))
      : null);
}

export async function modelView(ctx, name, notice = "") {
  const { main, api, may } = ctx;
  const path = `/v1/models/${encodeURIComponent(name)}`;
  const [model, { versions }, history] = await Promise.all(
    [api(path), api(`${path}/versions`), api(`${path}/history`)]);
  const shown = model.production_version ?? model.latest_version;
  const detail = await api(`${path}/versions/${shown}`);
  show(main,
    el("p", {}, el("a", { href: "#/" }, "← All models")),
    el("h1", {}, model.name, " ", el("span", { class: "hint" }, `${model.kind} · ${model.task}`)),
    notice ? el("p", { class: "notice", role: "status" }, notice) : null,
    model.description ? el("p", {}, model.description) : null,
    el("p", {}, "Showing version ", String(detail.version), " ", stage(detail.stage), " · ", headline(detail.headline)),
    tryItPanel(ctx, model, detail),
    cardSection(detail),
    plotsSection(ctx, path, detail),
    versionsSection(ctx, model, versions, history));
  if (notice) main.querySelector("[role=status]").focus?.();
}

function cardSection(detail) {
  const card = detail.card ?? {};
  const evaluation = card.evaluation ?? {};
  const items = [];
  const add = (label, value) => { if (value !== undefined && value !== null && value !== "") items.push(el("dt", {}, label), el("dd", {}, String(value))); };
  add("Intended use", card.intended_use);
  add("Out of scope", card.out_of_scope);
  add("Predicts", detail.spec?.output?.target);
  add("Estimator", card.estimator ?? detail.spec?.estimator);
  add("Hold-out split", evaluation.split);
  add("Rows", evaluation.n_train !== undefined ? `${evaluation.n_train} training, ${evaluation.n_test} hold-out` : null);
  add("Decision threshold", typeof evaluation.threshold === "number" ? fmt(evaluation.threshold) : null);
  add("Trained", card.trained_at ? `${when(card.trained_at)} by ${card.trained_by}` : null);
  const metrics = Object.entries(evaluation.metrics ?? {}).filter(([, m]) => m && typeof m.value === "number");
  const list = (title, values) => (values?.length ? el("div", {}, el("h3", {}, title), el("ul", {}, values.map((v) => el("li", {}, v)))) : null);
  return el("section", { class: "card", "aria-labelledby": "card-title" },
    el("h2", { id: "card-title" }, "Model card"),
    items.length ? el("dl", {}, items) : null,
    metrics.length ? table("Hold-out metrics with 95% bootstrap confidence intervals", ["Metric", "Value", "95% CI"],
      metrics.map(([k, m]) => [k, fmt(m.value), m.ci_low !== null && m.ci_low !== undefined ? `${fmt(m.ci_low)}–${fmt(m.ci_high)}` : "—"])) : null,
    list("Limitations", card.limitations),
    list("Benchmarks", card.benchmarks),
    list("References", card.references));
}

const PLOT_TITLES = { "roc.png": "ROC curve", "pr.png": "Precision–recall", "calibration.png": "Calibration",
                      "confusion.png": "Confusion matrix", "importance.png": "Global importance (SHAP)",
                      "regression.png": "Predicted against observed" };

function plotsSection({ api }, path, detail) {
  // Plots need the key, so they are fetched and shown from blob: URLs (the CSP allows those).
  const files = (detail.card?.plots ?? []).map((p) => p.split("/").pop());
  const grid = el("div", { class: "grid" });
  for (const file of files) {
    const figure = el("figure", { class: "plot" }, el("figcaption", {}, PLOT_TITLES[file] ?? file));
    grid.append(figure);
    api(`${path}/versions/${detail.version}/plots/${file}`, { as: "blob" })
      .then((blob) => figure.prepend(el("img", { src: URL.createObjectURL(blob), alt: `${PLOT_TITLES[file] ?? file} of version ${detail.version}` })))
      .catch(() => figure.remove());
  }
  return el("section", { "aria-labelledby": "plots-title" }, el("h2", { id: "plots-title" }, "Plots (hold-out set)"), grid);
}

function versionsSection(ctx, model, versions, history) {
  const { api, may } = ctx;
  const path = `/v1/models/${encodeURIComponent(model.name)}`;
  const status = el("p", { role: "status", "aria-live": "polite" });
  const action = (version, to, label) => el("button", { type: "button", class: "secondary", onclick: async (event) => {
    event.currentTarget.disabled = true;
    try {
      await api(`${path}/versions/${version.version}/promote`, { method: "POST", json: { stage: to, reason: "from the dashboard" } });
      // The page is drawn again from the registry, with what happened at its top.
      await modelView(ctx, model.name, `Version ${version.version} is now ${to}.`);
    } catch (exc) { status.textContent = exc.message; event.currentTarget.disabled = false; }
  } }, label);
  const promote = may("models:promote");
  const actions = (v) => el("span", {},
    v.stage !== "production" ? action(v, "production", "Promote to production") : null, " ",
    v.stage !== "archived" ? action(v, "archived", "Archive") : null);
  const rows = [...versions].reverse().map((v) => [
    `v${v.version}`, stage(v.stage), headline(v.headline), when(v.created_at), v.created_by,
    ...(promote ? [actions(v)] : []),
  ]);
  const headers = ["Version", "Stage", "Key metric", "Registered", "By", ...(promote ? ["Actions"] : [])];
  return el("section", { "aria-labelledby": "versions-title" },
    el("h2", { id: "versions-title" }, "Versions"),
    table("Newest first", headers, rows),
    status,
    el("h2", {}, "Stage history"),
    table("Which version served when, and who decided",
      ["When", "Version", "From", "To", "By", "Reason"],
      [...history].reverse().map((e) => [when(e.at), `v${e.version}`, e.from_stage ?? "—", e.to_stage, e.actor, e.reason ?? ""])));
}

const AUDIT_PAGE = 100;

export async function auditView({ main, api }) {
  const status = el("p", { role: "status" }, "Checking the hash chain…");
  const list = el("div");
  const filter = el("input", { id: "action", name: "action", placeholder: "e.g. model.predict" });
  const actor = el("input", { id: "actor", name: "actor", placeholder: "a key id" });
  const older = el("button", { type: "button", hidden: true, onclick: () => load(true) }, "Older events");
  let shown = [];
  // Pages go back by seq (the API's "before"): new events arriving meanwhile never shift them.
  const load = async (more = false) => {
    const query = [["action", filter], ["actor", actor]].filter(([, input]) => input.value.trim())
      .map(([name, input]) => `&${name}=${encodeURIComponent(input.value.trim())}`).join("");
    const before = more && shown.length ? `&before=${shown[shown.length - 1].seq}` : "";
    const page = (await api(`/v1/audit?n=${AUDIT_PAGE}${query}${before}`)).reverse();
    shown = more ? [...shown, ...page] : page;
    older.hidden = page.length < AUDIT_PAGE;
    list.replaceChildren(table(`The latest ${shown.length} events, newest first`,
      ["#", "When", "Actor", "Role", "Action", "Resource", "Version", "Outcome"],
      shown.map((e) => [String(e.seq), when(e.at), e.actor, e.role, e.action, e.resource, e.version ?? "", e.outcome])));
  };
  show(main, el("h1", {}, "Audit trail"), status,
    el("form", { onsubmit: (event) => { event.preventDefault(); load(); } },
      el("label", { for: "action" }, "Action "), filter, " ", el("label", { for: "actor" }, "Actor "), actor, " ",
      el("button", { type: "submit" }, "Filter")),
    list, older);
  await load();
  const check = await api("/v1/audit/verify");
  status.textContent = check.ok === false || check.first_bad_seq ? `Chain BROKEN at event ${check.first_bad_seq}: ${check.reason}`
    : `Hash chain intact: ${check.checked} events verified.`;
}

export function forbiddenView({ main, me }, what, reason) {
  show(main, el("div", { class: "forbidden", role: "alert" },
    el("h1", {}, "Not allowed"),
    el("p", {}, `Your key's role (${me.role}) may not open ${what}.`),
    el("p", { class: "hint" }, reason)),
    el("p", {}, el("a", { href: "#/" }, "Back to the models")));
}
