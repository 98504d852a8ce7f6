// reassess review: one mistake at a time, keyboard first. No framework, no external resources.
// Every piece of data is inserted with textContent (never innerHTML), so file names, class names,
// notes and reviewer names can never become markup.
"use strict";

(() => {
  const CONFIG = JSON.parse(document.getElementById("config").textContent);
  const TOKEN = document.querySelector('meta[name="csrf-token"]').content;
  const NAME_KEY = "reassess.review.reviewer";
  const FILTER_KEY = "reassess.review.filters";
  const PREFETCH = 3;
  const VERDICTS = Object.fromEntries(CONFIG.verdicts.map((v) => [v.id, v]));
  const VERDICT_BY_KEY = Object.fromEntries(CONFIG.verdicts.map((v) => [v.key, v.id]));

  const SET_TITLES = {
    real: "ReaL (Beyer et al. 2020)",
    multilabel: "Multi-labels",
    valid_labels: "Valid labels (dataset)",
    corrected: "Known label error: crowd-corrected label",
    cleaned: "Known label error",
  };
  const $ = (id) => document.getElementById(id);
  const state = {
    reviewer: localStorage.getItem(NAME_KEY) || "",
    list: [], // [{id, sample_id, n_reviews, mine, disagree}]
    pos: -1,
    cache: new Map(), // item id -> Promise of {item, review, others}
    drafts: new Map(), // item id -> draft (kept when moving away unsaved)
    classes: [], // [{index, wnid, name, synonyms, gloss}]
    byWnid: new Map(),
    current: null, // {item, review, others}
    draft: null, // {verdict, severity, valid: Set<wnid>, note}
    baseline: "",
    suggestions: [],
    active: 0,
    busy: false,
  };

  // ---------------------------------------------------------------- helpers
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function className(wnid) {
    const c = state.byWnid.get(wnid);
    return c ? c.name : wnid;
  }

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": TOKEN },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }

  let toastTimer = null;
  function toast(message, isError = false) {
    const node = $("toast");
    node.textContent = message;
    node.classList.toggle("error", isError);
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, isError ? 6000 : 1800);
  }

  function when(iso) {
    const date = new Date(iso);
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
  }

  function percent(p) { return p == null ? "" : `${(100 * p).toFixed(1)}%`; }

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }

  // ---------------------------------------------------------------- reviewer name
  function askName() {
    const dialog = $("name-dialog");
    $("name-input").value = state.reviewer;
    dialog.showModal();
    $("name-input").focus();
  }

  $("name-form").addEventListener("submit", (event) => {
    const name = $("name-input").value.trim();
    if (!name) { event.preventDefault(); return; }
    const changed = name !== state.reviewer;
    state.reviewer = name;
    localStorage.setItem(NAME_KEY, name);
    showName();
    if (changed) { state.cache.clear(); state.drafts.clear(); loadList(); }
  });

  $("name-dialog").addEventListener("cancel", (event) => { if (!state.reviewer) event.preventDefault(); });

  function showName() { $("who").textContent = state.reviewer ? `reviewer: ${state.reviewer}` : "set your name"; }

  // ---------------------------------------------------------------- list, filters, progress
  function filters() {
    return {
      status: $("f-status").value,
      category: $("f-category").value,
      cls: $("f-class").value,
      model: $("f-model").value,
    };
  }

  function restoreFilters() {
    try {
      const saved = JSON.parse(localStorage.getItem(FILTER_KEY) || "{}");
      for (const [name, value] of Object.entries(saved)) {
        const select = $("filters").elements[name];
        if (select && [...select.options].some((o) => o.value === value)) select.value = value;
      }
    } catch (_) { /* ignore */ }
  }

  async function loadList(preferId = null) {
    const params = new URLSearchParams({ ...filters(), reviewer: state.reviewer });
    localStorage.setItem(FILTER_KEY, JSON.stringify(filters()));
    const data = await api(`/api/items?${params}`);
    state.list = data.items;
    const empty = state.list.length === 0;
    $("empty-list").hidden = !empty;
    $("main").hidden = empty;
    let pos = -1;
    if (preferId != null) pos = state.list.findIndex((r) => r.id === preferId);
    if (pos < 0) pos = state.list.findIndex((r) => !r.mine);
    if (pos < 0) pos = 0;
    if (!empty) await show(pos);
    refreshStats();
  }

  async function refreshStats() {
    const stats = await api(`/api/stats?reviewer=${encodeURIComponent(state.reviewer)}`);
    if (!stats) return;
    const mine = stats.reviewed_by_me;
    $("progress-text").textContent = `${mine} / ${stats.total} reviewed` +
      (stats.reviewed_any !== mine ? ` · ${stats.reviewed_any} by anyone` : "");
    $("meter-fill").style.width = `${stats.total ? (100 * mine) / stats.total : 0}%`;
    state.stats = stats;
    if ($("stats-dialog").open) renderStats();
  }

  function renderStats() {
    const s = state.stats;
    const body = $("stats-body");
    body.replaceChildren();
    const agreement = s.agreement;
    const fmtK = (k) => (k == null ? "–" : k.toFixed(3));
    const summary = el("table", { class: "stats" },
      el("tr", {}, el("td", { text: "Mistakes in this review" }), el("td", { class: "num", text: String(s.total) })),
      el("tr", {}, el("td", { text: "Reviewed by you" }), el("td", { class: "num", text: String(s.reviewed_by_me) })),
      el("tr", {}, el("td", { text: "Reviewed by anyone" }), el("td", { class: "num", text: String(s.reviewed_any) })),
      el("tr", {}, el("td", { text: "Images with ≥ 2 reviews" }), el("td", { class: "num", text: String(agreement.items) })),
      el("tr", {}, el("td", { text: "… with unanimous verdicts" }), el("td", {
        class: "num",
        text: agreement.unanimous.value == null ? "–" :
          `${percent(agreement.unanimous.value)} (95% CI ${percent(agreement.unanimous.ci95[0])}–${percent(agreement.unanimous.ci95[1])})`,
      })),
      el("tr", {}, el("td", { text: "… agreeing on mistake / not a mistake" }), el("td", {
        class: "num", text: agreement.mistake_unanimous.value == null ? "–" : percent(agreement.mistake_unanimous.value),
      })),
      el("tr", {}, el("td", { text: "Reviewer pairs agreeing" }), el("td", { class: "num", text: agreement.pairwise == null ? "–" : percent(agreement.pairwise) })),
      el("tr", {}, el("td", { text: "Fleiss' κ (verdict)" }), el("td", { class: "num", text: fmtK(agreement.fleiss_kappa) })),
      el("tr", {}, el("td", { text: "Fleiss' κ (mistake or not)" }), el("td", { class: "num", text: fmtK(agreement.mistake_fleiss_kappa) })),
    );
    body.append(summary);
    const verdictTable = el("table", { class: "stats" },
      el("tr", {}, el("th", { text: "Verdict" }), el("th", { class: "num", text: "all reviews" }), el("th", { class: "num", text: "yours" })));
    for (const v of CONFIG.verdicts) {
      verdictTable.append(el("tr", {}, el("td", { text: v.title }),
        el("td", { class: "num", text: String(s.verdicts[v.id] || 0) }),
        el("td", { class: "num", text: String(s.my_verdicts[v.id] || 0) })));
    }
    body.append(el("h3", { text: "Verdicts" }), verdictTable);
    const reviewers = Object.entries(s.reviewers);
    if (reviewers.length) {
      const t = el("table", { class: "stats" }, el("tr", {}, el("th", { text: "Reviewer" }), el("th", { class: "num", text: "reviews" })));
      for (const [name, n] of reviewers) t.append(el("tr", {}, el("td", { text: name }), el("td", { class: "num", text: String(n) })));
      body.append(el("h3", { text: "Reviewers" }), t);
    }
    if (agreement.pairs.length) {
      const t = el("table", { class: "stats" }, el("tr", {}, el("th", { text: "Pair" }), el("th", { class: "num", text: "images" }),
        el("th", { class: "num", text: "agree" }), el("th", { class: "num", text: "Cohen's κ" })));
      for (const p of agreement.pairs) {
        t.append(el("tr", {}, el("td", { text: `${p.a} – ${p.b}` }), el("td", { class: "num", text: String(p.n) }),
          el("td", { class: "num", text: percent(p.agreement) }), el("td", { class: "num", text: fmtK(p.kappa) })));
      }
      body.append(el("h3", { text: "Pairs of reviewers" }), t);
    }
  }

  // ---------------------------------------------------------------- items, prefetch
  function fetchItem(id) {
    if (!state.cache.has(id)) {
      const promise = api(`/api/item/${id}?reviewer=${encodeURIComponent(state.reviewer)}`);
      promise.catch(() => state.cache.delete(id));
      state.cache.set(id, promise);
    }
    return state.cache.get(id);
  }

  function prefetch(pos) {
    for (let k = 1; k <= PREFETCH; k += 1) {
      const row = state.list[pos + k];
      if (!row) break;
      fetchItem(row.id).then((data) => {
        if (data.item.has_image) { const img = new Image(); img.src = `/image/${row.id}`; }
      }).catch(() => {});
    }
  }

  function draftFrom(data) {
    const r = data.review;
    if (r) return { verdict: r.verdict, severity: r.severity, valid: new Set(r.valid), note: r.note, extra: [] };
    return { verdict: null, severity: null, valid: new Set(data.item.suggested_valid), note: "", extra: [] };
  }

  function fingerprint(d) {
    return JSON.stringify([d.verdict, d.severity, [...d.valid].sort(), d.note.trim()]);
  }

  async function show(pos) {
    if (pos < 0 || pos >= state.list.length) return;
    if (state.current && state.draft) keepDraft();
    state.pos = pos;
    const row = state.list[pos];
    let data;
    try {
      data = await fetchItem(row.id);
    } catch (error) {
      toast(`Could not load item: ${error.message}`, true);
      return;
    }
    if (state.list[state.pos] !== row) return; // moved on meanwhile
    state.current = data;
    const saved = draftFrom(data);
    state.baseline = fingerprint(saved);
    state.draft = state.drafts.get(row.id) || saved;
    history.replaceState(null, "", `#item=${row.id}`);
    render();
    prefetch(pos);
  }

  function keepDraft() {
    const id = state.current.item.id;
    if (fingerprint(state.draft) !== state.baseline) state.drafts.set(id, state.draft);
    else state.drafts.delete(id);
  }

  // ---------------------------------------------------------------- rendering
  function render() {
    const { item, review, others } = state.current;
    const photo = $("photo");
    $("frame").classList.remove("zoom");
    if (item.has_image) {
      photo.hidden = false;
      photo.src = `/image/${item.id}`;
      photo.alt = item.sample_id;
      $("no-image").hidden = true;
    } else {
      photo.hidden = true;
      photo.removeAttribute("src");
      $("no-image").hidden = false;
    }
    $("sample-id").textContent = item.sample_id;
    const flags = $("flags");
    flags.replaceChildren();
    if (item.expert_problematic) flags.append(el("span", { class: "flag", text: "expert: problematic" }));
    if (item.imagenet_m) flags.append(el("span", { class: "flag", text: "ImageNet-M" }));
    if (others) flags.append(el("span", { class: "muted", text: `${others} other review${others > 1 ? "s" : ""}` }));
    $("position").textContent = `${state.pos + 1} / ${state.list.length}`;
    $("prev").disabled = state.pos === 0;
    $("next").disabled = state.pos >= state.list.length - 1;
    renderLabels();
    renderSets();
    renderAuto();
    renderVerdict();
    $("note").value = state.draft.note;
    $("withdraw").hidden = !review;
    renderSaveState();
  }

  function toggleRow(wnid, props) {
    return el("button", {
      type: "button",
      class: `row${state.draft.valid.has(wnid) ? " valid" : ""}${props.extraClass || ""}`,
      title: `${wnid} — click to toggle as a valid label`,
      onclick: () => toggleValid(wnid),
    },
    el("kbd", { text: props.key || "" }),
    el("span", { class: "name", text: className(wnid) }),
    props.prob == null ? el("span") : el("span", { class: "bar-cell" }, barFill(props.prob)),
    el("span", { class: "pct", text: props.prob == null ? "" : percent(props.prob) }));
  }

  function barFill(prob) {
    const span = el("span");
    span.style.width = `${Math.max(1, 100 * prob)}%`;
    return span;
  }

  function renderLabels() {
    const { item } = state.current;
    $("label").replaceChildren(toggleRow(item.label.wnid, { key: "0" }));
    const models = $("models");
    models.replaceChildren();
    item.mistakes.forEach((mistake, m) => {
      if (item.mistakes.length > 1 || CONFIG.models.length > 1) models.append(el("div", { class: "model-name", text: mistake.model }));
      mistake.top.forEach((c, k) => {
        const extra = (k === 0 ? " top1" : "") + (c.wnid === item.label.wnid ? " is-label" : "");
        models.append(toggleRow(c.wnid, { key: m === 0 ? String(k + 1) : "", prob: c.prob, extraClass: extra }));
      });
    });
  }

  function chip(wnid, kind, removable = false) {
    const valid = state.draft.valid.has(wnid);
    const node = el("button", {
      type: "button",
      class: `chip ${kind}${valid ? " valid" : ""}`,
      title: `${wnid} — click to toggle as a valid label`,
      onclick: () => toggleValid(wnid),
    }, (valid ? "✓ " : "") + className(wnid));
    if (!removable) return node;
    return el("span", { class: "chip valid" }, className(wnid),
      el("button", { type: "button", class: "x", title: `remove ${className(wnid)}`, "aria-label": `remove ${className(wnid)}`, onclick: () => toggleValid(wnid) }, "×"));
  }

  function renderSets() {
    const { item } = state.current;
    const box = $("label-sets");
    box.replaceChildren();
    for (const set of item.label_sets) {
      const chips = el("div", { class: "chips" });
      if (set.classes === null) chips.append(el("span", { class: "muted", text: "not annotated" }));
      else if (set.classes.length === 0) chips.append(el("span", { class: "muted", text: "no valid label: image excluded" }));
      else for (const c of set.classes) chips.append(chip(c.wnid, ""));
      box.append(el("div", { class: "set" }, el("div", { class: "set-name", text: SET_TITLES[set.name] || set.name }), chips));
    }
    if (item.expert) {
      const chips = el("div", { class: "chips" });
      for (const stateName of ["correct", "unclear", "wrong"]) {
        for (const c of item.expert[stateName]) {
          const node = chip(c.wnid, stateName);
          node.title = `expert: ${stateName} — ${c.wnid}`;
          chips.append(node);
        }
      }
      box.append(el("div", { class: "set" }, el("div", { class: "set-name", text: "Expert multi-labels (correct / unclear / wrong)" }), chips));
    }
    $("sets-card").hidden = box.childElementCount === 0;
  }

  function evidenceList(evidence) {
    if (evidence == null || evidence === "") return null;
    if (typeof evidence !== "object") return el("p", { class: "muted", text: String(evidence) });
    const dl = el("dl", { class: "evidence" });
    for (const [key, value] of Object.entries(evidence)) {
      dl.append(el("dt", { text: key.replaceAll("_", " ") }),
        el("dd", { text: typeof value === "object" && value !== null ? JSON.stringify(value) : String(value) }));
    }
    return dl;
  }

  function renderAuto() {
    const { item } = state.current;
    const box = $("auto");
    box.replaceChildren();
    for (const m of item.mistakes) {
      if (m.category == null && Object.keys(m.details).length === 0) continue;
      if (item.mistakes.length > 1) box.append(el("div", { class: "model-name", text: m.model }));
      box.append(el("span", { class: "auto-category", text: m.category_title || "uncategorised" }));
      if (m.severity) box.append(" ", el("span", { class: "muted", text: m.severity }));
      box.append(evidenceList(m.evidence) || "");
      const details = evidenceList(m.details);
      if (details && Object.keys(m.details).length) box.append(details);
    }
    $("auto-card").hidden = box.childElementCount === 0;
  }

  function renderVerdict() {
    const box = $("verdicts");
    if (!box.childElementCount) {
      for (const v of CONFIG.verdicts) {
        box.append(el("button", { type: "button", title: v.help, dataset: { verdict: v.id }, onclick: () => setVerdict(v.id) },
          el("span", { text: v.title }), el("kbd", { text: v.key })));
      }
    }
    for (const button of box.children) button.classList.toggle("selected", button.dataset.verdict === state.draft.verdict);
    const needsSeverity = state.draft.verdict && VERDICTS[state.draft.verdict].mistake;
    $("severity").hidden = !needsSeverity;
    for (const button of $("severity").querySelectorAll("button")) {
      button.classList.toggle("selected", button.dataset.severity === state.draft.severity);
    }
    renderValid();
  }

  function renderValid() {
    const box = $("valid");
    box.replaceChildren();
    if (!state.draft.valid.size) box.append(el("span", { class: "muted", text: "none yet — toggle a class above or search below" }));
    for (const wnid of state.draft.valid) box.append(chip(wnid, "valid", true));
  }

  function renderSaveState() {
    const node = $("save-state");
    const dirty = fingerprint(state.draft) !== state.baseline;
    const review = state.current.review;
    node.className = dirty ? "dirty" : review ? "saved" : "muted";
    node.textContent = dirty ? "unsaved changes" : review ? `saved ${when(review.updated)}` : "not reviewed yet";
  }

  function changed() {
    renderLabels();
    renderSets();
    renderVerdict();
    renderSaveState();
  }

  // ---------------------------------------------------------------- editing
  function predictions() { return state.current.item.predictions; }

  function toggleValid(wnid) {
    const d = state.draft;
    if (d.valid.has(wnid)) d.valid.delete(wnid); else d.valid.add(wnid);
    const predictedValid = predictions().some((w) => d.valid.has(w));
    if (predictions().includes(wnid)) {
      if (predictedValid && d.verdict && VERDICTS[d.verdict].mistake) { d.verdict = "not_a_mistake"; d.severity = null; }
      if (!predictedValid && d.verdict === "not_a_mistake") d.verdict = null;
    }
    changed();
  }

  function setVerdict(verdict) {
    const d = state.draft;
    const v = VERDICTS[verdict];
    d.verdict = verdict;
    if (verdict === "not_a_mistake") {
      if (!predictions().some((w) => d.valid.has(w))) for (const w of predictions()) d.valid.add(w);
      d.severity = null;
    } else if (v.mistake) {
      for (const w of predictions()) d.valid.delete(w);
      d.severity = state.current.item.suggested_severity || "minor";
    } else {
      d.severity = null;
    }
    changed();
  }

  function toggleSeverity(value) {
    const d = state.draft;
    if (!d.verdict || !VERDICTS[d.verdict].mistake) return;
    const order = CONFIG.severities;
    d.severity = value || order[(order.indexOf(d.severity) + 1) % order.length];
    renderVerdict();
    renderSaveState();
  }

  async function save() {
    if (state.busy || !state.current) return;
    const d = state.draft;
    if (!d.verdict) { toast("Choose a verdict first: n, f, o, s, p, m or x", true); return; }
    const { item } = state.current;
    const body = {
      reviewer: state.reviewer,
      verdict: d.verdict,
      severity: d.severity,
      valid: [...d.valid],
      shown: [...new Set([...item.candidates, ...d.valid])],
      note: $("note").value,
    };
    state.busy = true;
    try {
      const result = await api(`/api/review/${item.id}`, body);
      const data = { ...state.current, review: result.review };
      state.cache.set(item.id, Promise.resolve(data));
      state.drafts.delete(item.id);
      state.current = data;
      state.baseline = fingerprint(draftFrom(data));
      state.draft = draftFrom(data);
      const row = state.list[state.pos];
      if (row && row.id === item.id) { if (!row.mine) row.n_reviews += 1; row.mine = d.verdict; }
      toast(`Saved: ${VERDICTS[d.verdict].title}`);
      refreshStats();
      if (state.pos < state.list.length - 1) await show(state.pos + 1);
      else { render(); toast("Saved — that was the last item in this list"); }
    } catch (error) {
      toast(`Not saved: ${error.message}`, true);
    } finally {
      state.busy = false;
    }
  }

  async function withdraw() {
    const { item } = state.current;
    try {
      await api(`/api/review/${item.id}/delete`, { reviewer: state.reviewer });
      state.cache.delete(item.id);
      state.drafts.delete(item.id);
      const row = state.list[state.pos];
      if (row.mine) { row.mine = null; row.n_reviews -= 1; }
      state.current = null;
      await show(state.pos);
      refreshStats();
      toast("Review withdrawn");
    } catch (error) {
      toast(`Not withdrawn: ${error.message}`, true);
    }
  }

  function nextUnreviewed() {
    for (let k = 1; k <= state.list.length; k += 1) {
      const pos = (state.pos + k) % state.list.length;
      if (!state.list[pos].mine) { show(pos); return; }
    }
    toast("You have reviewed every item in this list");
  }

  // ---------------------------------------------------------------- class search
  function search(query) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const scored = [];
    for (const c of state.classes) {
      let best = Infinity;
      for (const s of c.synonyms) {
        const t = s.toLowerCase();
        const at = t.indexOf(q);
        if (at === 0) best = Math.min(best, t.length === q.length ? 0 : 1);
        else if (at > 0) best = Math.min(best, 2);
      }
      if (best === Infinity && (c.wnid === q || String(c.index) === q)) best = 0;
      if (best === Infinity && q.length >= 4 && c.gloss.toLowerCase().includes(q)) best = 3;
      if (best !== Infinity) scored.push([best, c.name.length, c]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return scored.slice(0, 12).map((s) => s[2]);
  }

  function renderSuggestions() {
    const list = $("suggestions");
    list.replaceChildren();
    state.suggestions.forEach((c, i) => {
      const others = c.synonyms.slice(1).join(", ");
      list.append(el("li", {
        role: "option",
        class: i === state.active ? "active" : "",
        "aria-selected": i === state.active ? "true" : "false",
        onmousedown: (event) => { event.preventDefault(); addSuggestion(i); },
      }, c.name + (state.draft && state.draft.valid.has(c.wnid) ? " ✓" : ""),
      others ? el("span", { class: "syn", text: ` — ${others}` }) : null,
      el("span", { class: "gloss", text: c.gloss })));
    });
    list.hidden = state.suggestions.length === 0;
    $("search").setAttribute("aria-expanded", String(!list.hidden));
  }

  function addSuggestion(i) {
    const c = state.suggestions[i];
    if (!c || !state.draft) return;
    if (!state.draft.valid.has(c.wnid)) toggleValid(c.wnid);
    $("search").value = "";
    state.suggestions = [];
    renderSuggestions();
    toast(`Added ${c.name}`);
  }

  $("search").addEventListener("input", (event) => {
    state.suggestions = search(event.target.value);
    state.active = 0;
    renderSuggestions();
  });
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") { state.active = Math.min(state.active + 1, state.suggestions.length - 1); renderSuggestions(); event.preventDefault(); }
    else if (event.key === "ArrowUp") { state.active = Math.max(state.active - 1, 0); renderSuggestions(); event.preventDefault(); }
    else if (event.key === "Enter") { event.preventDefault(); event.stopPropagation(); if (state.suggestions.length) addSuggestion(state.active); }
    else if (event.key === "Escape") { event.target.value = ""; state.suggestions = []; renderSuggestions(); event.target.blur(); event.stopPropagation(); }
  });
  $("search").addEventListener("blur", () => { state.suggestions = []; renderSuggestions(); });

  // ---------------------------------------------------------------- keyboard
  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) {
      return; // dialogs handle their own keys (Esc closes them)
    }
    if (event.target === $("note")) {
      if (event.key === "Escape") { event.target.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); event.target.blur(); save(); }
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey || !state.current) return;
    const key = event.key;
    if (VERDICT_BY_KEY[key]) { setVerdict(VERDICT_BY_KEY[key]); }
    else if (/^[1-9]$/.test(key)) {
      const top = state.current.item.mistakes[0].top[Number(key) - 1];
      if (top) toggleValid(top.wnid);
    } else if (key === "0" || key === "l") toggleValid(state.current.item.label.wnid);
    else if (key === "v") toggleSeverity();
    else if (key === "/") { $("search").focus(); }
    else if (key === "t") { $("note").focus(); }
    else if (key === "Enter") save();
    else if (key === "j" || key === "ArrowRight") show(state.pos + 1);
    else if (key === "k" || key === "ArrowLeft") show(state.pos - 1);
    else if (key === "u") nextUnreviewed();
    else if (key === "z") $("frame").classList.toggle("zoom");
    else if (key === "a") openStats();
    else if (key === "?") $("help-dialog").showModal();
    else return;
    event.preventDefault();
  });

  function openStats() { renderStats(); $("stats-dialog").showModal(); refreshStats(); }

  // ---------------------------------------------------------------- wiring
  $("note").addEventListener("input", (event) => { if (state.draft) { state.draft.note = event.target.value; renderSaveState(); } });
  $("save").addEventListener("click", save);
  $("withdraw").addEventListener("click", withdraw);
  $("prev").addEventListener("click", () => show(state.pos - 1));
  $("next").addEventListener("click", () => show(state.pos + 1));
  $("who").addEventListener("click", askName);
  $("stats-button").addEventListener("click", openStats);
  $("help-button").addEventListener("click", () => $("help-dialog").showModal());
  $("photo").addEventListener("click", () => $("frame").classList.toggle("zoom"));
  for (const button of $("severity").querySelectorAll("button")) button.addEventListener("click", () => toggleSeverity(button.dataset.severity));
  for (const close of document.querySelectorAll("[data-close]")) close.addEventListener("click", () => close.closest("dialog").close());
  $("filters").addEventListener("change", (event) => {
    event.target.blur(); // keys act on the page again at once
    state.drafts.clear();
    loadList();
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  window.addEventListener("beforeunload", (event) => {
    if (state.draft && fingerprint(state.draft) !== state.baseline) { event.preventDefault(); event.returnValue = ""; }
  });

  async function start() {
    restoreFilters();
    showName();
    const classes = await api("/api/classes");
    state.classes = classes;
    state.byWnid = new Map(classes.map((c) => [c.wnid, c]));
    const match = location.hash.match(/item=(\d+)/);
    if (!state.reviewer) { askName(); return; } // submitting the name loads the list
    await loadList(match ? Number(match[1]) : null);
  }

  start().catch((error) => toast(`Could not start: ${error.message}`, true));
})();
