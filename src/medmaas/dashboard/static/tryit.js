// "Try it": a form generated from the model's input spec, and the answer with its probability,
// its uncertainty and its reasons (SHAP contributions), never a bare number.
import { el, fmt, table } from "/ui/dom.js";

export function tryItPanel(ctx, model, detail) {
  const section = el("section", { class: "panel", "aria-labelledby": "try-title" }, el("h2", { id: "try-title" }, "Try it"));
  if (!ctx.may("predict")) {
    section.append(el("p", {}, `Your role (${ctx.me.role}) may not send data to models.`));
  } else if (detail.kind === "tabular") {
    section.append(tabularForm(ctx, model, detail));
    // A model trained with a FHIR map also reads a patient's record as FHIR R4 (the $predict route).
    if (detail.spec.inputs.some((f) => f.fhir)) section.append(bundleForm(ctx, model, detail));
  } else if (detail.kind === "text") {
    section.append(noteForm(ctx, model, detail));
  } else if (detail.kind in UPLOADS) {
    section.append(uploadForm(ctx, model, detail));
  } else {
    section.append(el("p", {}, `The dashboard cannot send ${detail.kind} inputs yet; use the API or \`medmaas predict\`.`));
  }
  return section;
}

function fieldFor(feature) {
  const id = `f-${feature.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const hintParts = [];
  if (feature.unit) hintParts.push(feature.unit);
  if (typeof feature.minimum === "number" && typeof feature.maximum === "number") hintParts.push(`seen in training ${feature.minimum}–${feature.maximum}`);
  if (!feature.required) hintParts.push("optional: imputed as in training if empty");
  if (feature.description) hintParts.push(feature.description);
  const control = feature.categories
    ? el("select", { id, name: feature.name, "aria-describedby": `${id}-hint ${id}-error` },
        el("option", { value: "" }, feature.required ? "choose…" : "(missing)"),
        feature.categories.map((c) => el("option", { value: c }, c)))
    : el("input", { id, name: feature.name, type: feature.type === "number" ? "number" : "text", step: "any",
                    inputmode: feature.type === "number" ? "decimal" : null, required: feature.required,
                    "aria-describedby": `${id}-hint ${id}-error` });
  return el("div", { class: "field", "data-feature": feature.name },
    el("label", { for: id }, feature.name),
    control,
    el("span", { class: "hint", id: `${id}-hint` }, hintParts.join(" · ")),
    el("span", { class: "error", id: `${id}-error` }));
}

function tabularForm(ctx, model, detail) {
  const inputs = detail.spec.inputs;
  const fields = inputs.map(fieldFor);
  const formError = el("p", { class: "error", role: "alert" });
  const result = el("div", { class: "result", "aria-live": "polite" });
  const submit = el("button", { type: "submit" }, "Predict and explain");
  const form = el("form", { novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    for (const f of fields) { f.querySelector(".error").textContent = ""; f.querySelector("input, select").removeAttribute("aria-invalid"); }
    formError.textContent = "";
    const row = {};
    for (const feature of inputs) {
      const raw = form.elements[feature.name].value.trim();
      // Empty is "not measured": sent as null, which the model imputes as in training (and says so).
      if (raw === "") { row[feature.name] = null; continue; }
      row[feature.name] = feature.type === "number" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    }
    submit.disabled = true;
    const started = performance.now();
    try {
      const action = ctx.may("explain") ? "explain" : "predict";
      const body = action === "explain" ? { rows: [row], top_k: 6 } : { rows: [row] };
      const answer = await ctx.api(`/v1/models/${encodeURIComponent(model.name)}/${action}`, { method: "POST", json: body });
      result.replaceChildren(renderAnswer(detail, answer, performance.now() - started));
    } catch (exc) {
      result.replaceChildren();
      showError(fields, formError, exc.message);
    } finally { submit.disabled = false; }
  } },
    el("div", { class: "fields" }, fields), formError, el("p", {}, submit));
  return el("div", {}, form, result);
}

//: what each kind of model reads from an uploaded file, and what its explanation draws
const UPLOADS = {
  image: { accept: ".dcm,.dicom,.nii,.nii.gz,.png,.jpg,.jpeg,application/dicom,image/png,image/jpeg", multiple: false,
           hint: "A DICOM (de-identified on arrival), NIfTI, PNG or JPEG image.",
           heatmap: "Heat map: where the model looked (occlusion), over the image" },
  signal: { accept: ".hea,.dat,.edf,.csv,.zip,.tar,.gz", multiple: true,
            hint: "An ECG recording: a WFDB record (its .hea and .dat files together), EDF, CSV, or a .zip of a record.",
            heatmap: "The signal, with the segments that weighed most in the answer marked" },
  timeseries: { accept: ".txt,.csv,.psv,text/plain,text/csv", multiple: false,
                hint: "One ICU stay as a PhysioNet 2012 file: Time,Parameter,Value rows of the first 48 hours.",
                heatmap: "Contribution of each variable and hour of the stay to the answer" },
};

// A form of one control (a file chooser, a note): its error under it, the answer below it.
// ``answer()`` sends what the control holds and returns the nodes to show.
function oneFieldForm({ control, label, hint, button, missing, isEmpty, answer, extra = null }) {
  const id = control.id;
  control.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
  const error = el("p", { class: "error", id: `${id}-error`, role: "alert" });
  const result = el("div", { class: "result", "aria-live": "polite" });
  const submit = el("button", { type: "submit" }, button);
  const fail = (message) => { error.textContent = message; control.setAttribute("aria-invalid", "true"); control.focus(); };
  const form = el("form", { novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    control.removeAttribute("aria-invalid");
    if (isEmpty()) { fail(missing); return; }
    submit.disabled = true;
    try {
      result.replaceChildren(...(await answer()).filter(Boolean));
    } catch (exc) {
      result.replaceChildren();
      fail(exc.message);
    } finally { submit.disabled = false; }
  } },
    el("div", { class: "field" }, el("label", { for: id }, label), control, el("span", { class: "hint", id: `${id}-hint` }, hint)),
    extra, error, el("p", {}, submit));
  return el("div", {}, form, result);
}

function uploadForm(ctx, model, detail) {
  const kind = UPLOADS[detail.kind];
  const input = el("input", { type: "file", id: "upload", name: "file", accept: kind.accept, multiple: kind.multiple, required: true });
  const action = ctx.may("explain") ? "explain" : "predict";
  return oneFieldForm({
    control: input, label: kind.multiple ? "Files" : "File", hint: kind.hint,
    button: action === "explain" ? "Predict and explain" : "Predict", missing: "Choose a file first.",
    isEmpty: () => !input.files.length,
    answer: async () => {
      const body = new FormData();
      for (const file of input.files) body.append("file", file, file.name);
      const started = performance.now();
      const answer = await ctx.api(`/v1/models/${encodeURIComponent(model.name)}/${action}/file`, { method: "POST", body });
      return [renderAnswer(detail, answer, performance.now() - started, kind.heatmap)];
    },
  });
}

function bundleForm(ctx, model, detail) {
  const input = el("input", { type: "file", id: "bundle", name: "bundle", accept: ".json,application/fhir+json,application/json", required: true });
  const at = el("input", { type: "date", id: "at", name: "at", "aria-describedby": "at-hint" });
  const mapped = detail.spec.inputs.filter((f) => f.fhir).length;
  const explain = ctx.may("explain");
  return el("div", { class: "fhir" },
    el("h3", {}, "Or a patient's FHIR R4 Bundle"),
    oneFieldForm({
      control: input, label: "Bundle (JSON)", button: "Predict from the record",
      hint: `One Patient with their Observations and Conditions; ${mapped} of ${detail.spec.inputs.length} inputs can be read from it, and those it lacks are imputed as in training.`,
      missing: "Choose a Bundle file first.", isEmpty: () => !input.files.length,
      extra: el("div", { class: "field" }, el("label", { for: "at" }, "As of (optional)"), at,
        el("span", { class: "hint", id: "at-hint" }, "The prediction's date: resources after it are ignored. Empty: today.")),
      answer: async () => {
        const query = new URLSearchParams({ model: model.name, explain: String(explain) });
        if (at.value) query.set("at", at.value);
        const started = performance.now();
        const risk = await ctx.api(`/fhir/r4/RiskAssessment/$predict?${query}`, { method: "POST", body: input.files[0],
          headers: { "Content-Type": "application/fhir+json" } });
        return [riskAssessmentParts(risk, performance.now() - started)];
      },
    }));
}

// A FHIR RiskAssessment as a clinician reads it: the risk, its level, the reasons and the notes
// (inputs missing from the record, resources ignored), then the resource itself for the curious.
function riskAssessmentParts(risk, ms) {
  const items = risk.prediction ?? [];
  return el("div", { class: "panel", id: "risk-assessment" },
    items.map((item) => el("div", { class: "one" },
      el("p", { class: "big" }, `${item.outcome?.text ?? "outcome"}: ${fmt(item.probabilityDecimal)}`),
      item.qualitativeRisk ? el("p", {}, `Risk level: ${item.qualitativeRisk.coding?.[0]?.code}`) : null,
      item.rationale ? el("p", {}, item.rationale) : null)),
    (risk.note ?? []).map((n) => el("p", { class: "notice" }, n.text)),
    el("details", {}, el("summary", {}, "The RiskAssessment resource"), el("pre", {}, JSON.stringify(risk, null, 2))),
    el("p", { class: "hint" }, `${risk.method?.coding?.[0]?.code ?? ""} v${risk.method?.coding?.[0]?.version ?? "?"} · ${risk.basis?.length ?? 0} resources used · ${Math.round(ms)} ms`));
}

function noteForm(ctx, model, detail) {
  const field = detail.spec.inputs[0].name;
  const note = el("textarea", { id: "note", name: "note", rows: 7, required: true });
  return oneFieldForm({
    control: note, label: "Clinical note", hint: "De-identified on arrival, before the model reads it.",
    button: "Classify the note", missing: "Write or paste a note first.",
    isEmpty: () => !note.value.trim(),
    answer: async () => {
      const action = ctx.may("explain") ? "explain" : "predict";
      const started = performance.now();
      // The model de-identifies the note itself; the de-identified text shown is the same rules'.
      const [answer, deid] = await Promise.all([
        ctx.api(`/v1/models/${encodeURIComponent(model.name)}/${action}`, { method: "POST", json: { rows: [{ [field]: note.value }] } }),
        ctx.may("deid") ? ctx.api("/v1/deid", { method: "POST", json: { text: note.value } }) : null,
      ]);
      const ms = performance.now() - started;
      const found = deid && ctx.may("entities") ? await ctx.api("/v1/entities", { method: "POST", json: { text: deid.text } }) : null;
      return [renderAnswer(detail, answer, ms), deid ? annotatedNote(deid, found) : null];
    },
  });
}

// The de-identified note with the entities found in it marked: negated findings struck through
// and labelled "no", the other contexts named, so "denies chest pain" is not read as chest pain.
function annotatedNote(deid, found) {
  const text = deid.text;
  const entities = (found?.entities ?? []).slice().sort((a, b) => a.start - b.start);
  const pieces = [];
  let at = 0;
  for (const e of entities) {
    if (e.start < at) continue; // overlapping: the first wins
    pieces.push(text.slice(at, e.start));
    const context = ["negated", "uncertain", "historical", "hypothetical", "family"].filter((k) => e[k]);
    const said = `${e.label}: ${e.concept}${context.length ? ` (${context.join(", ")})` : ""}`;
    pieces.push(el("mark", { class: `ent ent-${e.label}${e.negated ? " negated" : ""}`, title: said, "aria-label": said },
      el("span", {}, text.slice(e.start, e.end)), context.length ? el("sup", {}, e.negated ? "no" : context[0]) : null));
    at = e.end;
  }
  pieces.push(text.slice(at));
  const counts = Object.entries(deid.counts ?? {}).map(([k, n]) => `${n} ${k}`).join(", ");
  return el("section", { class: "panel", id: "annotated", "aria-labelledby": "annotated-title" },
    el("h3", { id: "annotated-title" }, "The note, de-identified, with what was found in it"),
    el("p", { class: "note" }, pieces),
    el("p", { class: "hint" }, `Identifiers replaced: ${counts || "none"}. `,
      found ? `Entities: ${Object.entries(found.counts).map(([k, n]) => `${n} ${k}`).join(", ") || "none"}. ` : "",
      "Struck through: negated (\"no\")."),
    el("ul", { class: "legend" },
      el("li", {}, el("mark", { class: "ent ent-problem" }, "problem")),
      el("li", {}, el("mark", { class: "ent ent-medication" }, "medication")),
      el("li", {}, el("mark", { class: "ent ent-test" }, "test")),
      el("li", {}, el("mark", { class: "ent ent-problem negated" }, "negated"))));
}

// The server names the field in quotes ("column 'age' must be numeric; got 'abc'"): the message
// goes under that field; anything else goes above the button.
function showError(fields, formError, message) {
  const named = fields.find((f) => message.includes(`'${f.dataset.feature}'`));
  if (!named) { formError.textContent = message; return; }
  named.querySelector(".error").textContent = message;
  const control = named.querySelector("input, select");
  control.setAttribute("aria-invalid", "true");
  control.focus();
}

function renderAnswer(detail, answer, ms, heatmapLabel) {
  // A recording may be answered beat by beat: the first few are shown, with how many there were.
  const shown = answer.predictions.slice(0, 5);
  const node = el("div", { class: "panel", id: "prediction" },
    shown.map((p, i) => el("div", { class: "one" }, answer.predictions.length > 1 ? el("h3", {}, `Result ${i + 1} of ${answer.predictions.length}`) : null,
                           predictionParts(detail, p, heatmapLabel))),
    el("p", { class: "hint" }, `Model ${answer.model} v${answer.version} · request ${answer.request_id} · ${Math.round(ms)} ms`));
  // Widths set from script, not a style attribute: the CSP allows no inline styles.
  for (const bar of node.querySelectorAll(".bar")) bar.style.width = `${bar.dataset.width}%`;
  return node;
}

function recordingParts(p) {
  // An ECG recording is answered beat by beat, with a rhythm summary.
  const s = p.summary;
  const counts = Object.entries(s.counts ?? {}).map(([label, n]) => `${n} ${label} (${s.percent?.[label] ?? 0}%)`).join(", ");
  const parts = [el("p", { class: "big" }, `${s.beats} beats: ${counts}`)];
  if (s.heart_rate_bpm) parts.push(el("p", {}, `Heart rate ${s.heart_rate_bpm.mean} bpm (${s.heart_rate_bpm.min}–${s.heart_rate_bpm.max}).`));
  if (s.uncertain) parts.push(el("p", {}, `Uncertain beats (more than one label plausible at the set's coverage): ${s.uncertain}.`));
  parts.push(table(`The first ${Math.min(10, p.beats.length)} of ${p.beats.length} beats`, ["Time (s)", "Label", "Probability", "Uncertain"],
    p.beats.slice(0, 10).map((b) => [fmt(b.time_s, 2), b.label, fmt(b.probability), b.uncertain ? "yes" : ""])));
  return parts;
}

function predictionParts(detail, p, heatmapLabel) {
  const out = detail.spec.output;
  const parts = [];
  if (p.summary && p.beats) {
    parts.push(...recordingParts(p));
  } else if (detail.task === "regression") {
    parts.push(el("p", { class: "big" }, `${fmt(p.prediction)} ${p.unit ?? ""}`));
    if (p.interval) parts.push(el("p", {}, `${Math.round(p.interval_level * 100)}% prediction interval: ${fmt(p.interval[0])}–${fmt(p.interval[1])}`));
  } else {
    const probability = p.probability ?? p.probabilities?.[p.prediction];
    const positive = out.positive_class ?? out.classes?.[1];
    parts.push(el("p", { class: "big" }, `${p.prediction}`),
      el("p", {}, p.probability !== undefined
        ? `P(${positive}) = ${fmt(p.probability)} (decision threshold ${fmt(p.threshold)})`
        : `P(${p.prediction}) = ${fmt(probability)}`));
    if (p.prediction_set) {
      const level = Math.round(p.set_level * 100);
      parts.push(el("p", {}, p.uncertain
        ? (p.prediction_set.length
          ? `Uncertain: at ${level}% coverage the answer could be any of ${p.prediction_set.join(", ")}.`
          : `Uncertain: at ${level}% coverage no class is plausible enough (an empty prediction set); read the answer with care.`)
        : `Confident at ${Math.round(p.set_level * 100)}% coverage (conformal prediction set: ${p.prediction_set.join(", ")}).`));
    }
  }
  for (const warning of p.warnings ?? []) parts.push(el("p", { class: "notice" }, warning));
  // The reasons, whatever the kind calls them: SHAP per field, occlusion per word or per variable.
  const contributions = p.explanation?.contributions
    ?? (p.explanation?.top_words ?? []).map((w) => ({ feature: `"${w.word}"`, value: "present", contribution: w.contribution }))
      .concat((p.explanation?.top_variables ?? []).map((v) => ({ feature: v.variable, value: `${v.measurements} measurements`, contribution: v.contribution })));
  if (contributions.length) {
    const largest = Math.max(...contributions.map((c) => Math.abs(c.contribution)), 1e-9);
    parts.push(el("h3", {}, `Why: the largest contributions (${p.explanation.explained_output ?? ((p.explanation.class ?? p.explanation.explained_class) !== undefined ? `P(${p.explanation.class ?? p.explanation.explained_class})` : "")})`),
      el("ul", { class: "bars" }, contributions.map((c) => el("li", {},
        el("span", {}, `${c.feature} = ${c.value ?? "missing"}`),
        el("span", { class: "bar-wrap" }, el("span", { class: `bar ${c.contribution >= 0 ? "up" : "down"}`,
          role: "img", "aria-label": `${c.contribution >= 0 ? "raises" : "lowers"} by ${fmt(Math.abs(c.contribution))}`,
          "data-width": Math.round((100 * Math.abs(c.contribution)) / largest) })),
        el("span", { class: "num" }, `${c.contribution >= 0 ? "+" : "−"}${fmt(Math.abs(c.contribution))}`)))),
      el("p", { class: "hint" }, p.explanation.method ?? ""));
  }
  const png = p.explanation?.overlay_png ?? p.explanation?.png_base64 ?? p.explanation?.heatmap_png;
  if (png) {
    const slice = p.explanation.overlay_slice;
    parts.push(el("figure", { class: "heatmap" },
      el("img", { src: `data:image/png;base64,${png}`, alt: heatmapLabel }),
      el("figcaption", {}, heatmapLabel, slice !== undefined ? `, slice ${slice}: the one with the most evidence` : "",
        p.explanation.method ? ` (${p.explanation.method})` : "")));
  }
  // A volume: its slices side by side on one colour scale, so evidence elsewhere shows too.
  if (p.explanation?.montage_png) {
    const shown = p.explanation.montage_slices;
    const label = `Slices ${shown[0]} to ${shown[shown.length - 1]} (${shown.length} shown), numbered, on one colour scale`;
    parts.push(el("figure", { class: "heatmap montage" },
      el("img", { src: `data:image/png;base64,${p.explanation.montage_png}`, alt: label }),
      el("figcaption", {}, label)));
  }
  return parts;
}
