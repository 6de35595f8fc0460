// personframes review: the gallery's page. Plain JS, no build step, no network but this server.
"use strict";

const FIELDS = ["group", "kind", "pose", "head", "shot", "decision"];
const $ = (id) => document.getElementById(id);

let state = { items: [], people: [], progress: [] };
let selected = null; // the selected image's (or clip's) path
let view = "images";
const drafts = new Map(); // names typed in the person view, kept across updates
let peopleShown = null; // the people the person view shows now (JSON)
const filters = { quality: 0 };
// A clip's video in the grid, kept across renders (a new element would load it again
// and start it over on every update of a running extract).
const clipVideos = new Map();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function fileUrl(path) {
  return "/files/" + path.split("/").map(encodeURIComponent).join("/");
}

function labelOf(group) {
  const person = state.people.find((p) => p.id === group);
  return person ? person.label : group;
}

function showError(message) {
  const toast = $("toast");
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (toast.hidden = true), 4000);
}

// The session's token travels as the cookie the server set when the page was opened
// from the address personframes review printed (HttpOnly: this script never sees it).
async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer.result;
}

// -- filters -------------------------------------------------------------
function visible() {
  return state.items.filter(
    (item) =>
      FIELDS.every((field) => !filters[field] || item[field] === filters[field]) &&
      (item.quality === null || item.quality >= filters.quality)
  );
}

function fillFilters() {
  for (const field of FIELDS) {
    const select = $("f-" + field);
    const counts = new Map();
    for (const item of state.items) counts.set(item[field], (counts.get(item[field]) || 0) + 1);
    const current = filters[field] || "";
    select.replaceChildren(el("option", { value: "" }, "all"));
    const values = [...counts.keys()].sort((a, b) =>
      field === "group" ? 0 : String(a).localeCompare(String(b))
    );
    for (const value of values) {
      const text = field === "group" ? labelOf(value) : value;
      select.append(el("option", { value }, `${text} (${counts.get(value)})`));
    }
    if (current && !counts.has(current)) {
      select.append(el("option", { value: current }, `${current} (0)`));
    }
    select.value = current;
  }
}

// -- clips ---------------------------------------------------------------
// A clip (extract --clips) is an .mp4: silent, looped, shown by its first frame in the
// grid and played while the pointer is on it; played with controls in the side panel.
function clipVideo(item, attrs) {
  const video = el("video", { src: fileUrl(item.path), loop: "", playsinline: "", "aria-label": item.path, ...attrs });
  video.muted = true; // the attribute alone does not mute an element made by script
  return video;
}

function gridVideo(item) {
  let video = clipVideos.get(item.path);
  if (!video) {
    video = clipVideo(item, { preload: "metadata" });
    video.addEventListener("mouseenter", () => video.play().catch(() => {}));
    video.addEventListener("mouseleave", () => video.pause());
    clipVideos.set(item.path, video);
  }
  return video;
}

function seconds(clip) {
  return `${(clip.frames / clip.fps).toFixed(1)} s`;
}

// -- the grid ------------------------------------------------------------
function cardFor(item) {
  const clip = item.kind === "clip";
  const card = el(
    "figure",
    { class: "card " + item.decision, dataset: { path: item.path, kind: item.kind }, title: item.path },
    clip ? gridVideo(item) : el("img", { src: fileUrl(item.path), loading: "lazy", alt: item.path }),
    el("figcaption", {}, `${item.kind} · ${item.head} · ${item.shot}`),
    el("span", { class: "badge" }, item.decision === "unreviewed" ? "" : item.decision)
  );
  if (item.restored) card.append(el("span", { class: "restored-mark" }, "restored"));
  if (clip) card.append(el("span", { class: "clip-mark" }, `\u25B6 ${seconds(item.details.clip)}`));
  if (item.path === selected) card.classList.add("selected");
  card.addEventListener("click", () => select(item.path));
  return card;
}

function renderGrid() {
  const grid = $("grid");
  const items = visible();
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item.group)) groups.set(item.group, new Map());
    const category = `${item.pose} / ${item.head} / ${item.shot}`;
    const categories = groups.get(item.group);
    if (!categories.has(category)) categories.set(category, []);
    categories.get(category).push(item);
  }
  const order = state.people.map((p) => p.id);
  const paths = new Set(state.items.map((i) => i.path));
  for (const path of [...clipVideos.keys()]) if (!paths.has(path)) clipVideos.delete(path);
  const sections = [...groups.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  grid.replaceChildren(
    ...sections.map((group) => {
      const section = el("section", { class: "group", dataset: { group } });
      section.append(el("h2", {}, labelOf(group)));
      for (const [category, members] of [...groups.get(group)].sort()) {
        section.append(el("h3", {}, category), el("div", { class: "cards" }, ...members.map(cardFor)));
      }
      return section;
    })
  );
  if (!items.length) {
    grid.append(el("p", {}, state.items.length ? "No image matches the filters." : "No images yet."));
  }
  const reviewed = state.items.filter((i) => i.decision !== "unreviewed").length;
  $("counts").textContent = `${items.length} shown of ${state.items.length} · ${reviewed} reviewed`;
}

function orderedPaths() {
  return [...document.querySelectorAll("#grid .card")].map((card) => card.dataset.path);
}

function cardOf(path) {
  return [...document.querySelectorAll("#grid .card")].find((c) => c.dataset.path === path);
}

// -- the side panel ------------------------------------------------------
function renderPanel() {
  const item = state.items.find((i) => i.path === selected);
  const panel = $("panel");
  panel.hidden = !item || view !== "images";
  const viewer = $("viewer");
  if (panel.hidden) for (const video of viewer.querySelectorAll("video")) video.pause();
  if (!item) return;
  if (item.kind === "clip") {
    if (viewer.dataset.clip !== item.path) {
      // Kept while the same clip stays selected: an update does not start it over.
      viewer.replaceChildren(clipVideo(item, { class: "single", controls: "", autoplay: "", preload: "auto" }));
      viewer.dataset.clip = item.path;
    }
  } else if (item.before) {
    delete viewer.dataset.clip;
    const compare = el(
      "div",
      { class: "compare", style: `--ratio: ${item.size[0]} / ${item.size[1]}` },
      el("img", { class: "after", src: fileUrl(item.path), alt: "restored" }),
      el("img", { class: "before", src: fileUrl(item.before), alt: "before restoration" }),
      el("div", { class: "divider" }),
      el("span", { class: "tag left" }, "before"),
      el("span", { class: "tag right" }, "restored")
    );
    const slider = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "before / restored" });
    slider.addEventListener("input", () => compare.style.setProperty("--pos", slider.value + "%"));
    compare.append(slider);
    viewer.replaceChildren(compare);
  } else {
    delete viewer.dataset.clip;
    viewer.replaceChildren(el("img", { class: "single", src: fileUrl(item.path), alt: item.path }));
  }
  const rows = [
    ["file", item.path],
    ["review", item.decision],
    ["person", labelOf(item.group) + (item.group !== item.person ? ` (was ${item.person})` : "")],
    ["kind", item.kind],
    ["pose", item.pose],
    ["head", item.head],
    ["shot", item.shot],
    ["quality", item.quality === null ? "—" : item.quality.toFixed(3)],
    ["size", `${item.size[0]} × ${item.size[1]}`],
    [item.kind === "clip" ? "first frame" : "frame", String(item.frame_index)],
    ["selection", item.reason],
  ];
  const clip = item.details.clip;
  if (clip) {
    rows.push(
      ["time", `${clip.start_s.toFixed(2)} – ${clip.end_s.toFixed(2)} s (${seconds(clip)})`],
      ["frames", `${clip.frames} at ${clip.fps} fps`],
      ["crop", clip.crop],
      ["shot number", `${clip.shot} (0: before the first cut)`],
      ["frames bridged", String(clip.frames_bridged)]
    );
  }
  const restoration = item.details.restoration;
  if (restoration) {
    rows.push(["restoration", `${restoration.decision}: ${restoration.reason || ""}`]);
    if (restoration.engine) rows.push(["engine", `${restoration.model} on ${restoration.engine} ${restoration.precision}`]);
    if (restoration.identity_distance !== null && restoration.identity_distance !== undefined) {
      rows.push(["identity distance", String(restoration.identity_distance)]);
    }
  }
  for (const [key, value] of Object.entries(item.details.quality || {})) {
    if (key !== "overall") rows.push([`quality: ${key}`, String(value)]);
  }
  $("meta").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))));
}

function select(path) {
  selected = path;
  for (const card of document.querySelectorAll("#grid .card.selected")) card.classList.remove("selected");
  const card = cardOf(path);
  if (card) {
    card.classList.add("selected");
    card.scrollIntoView({ block: "nearest" });
  }
  renderPanel();
}

function move(step) {
  const paths = orderedPaths();
  if (!paths.length) return;
  const at = paths.indexOf(selected);
  const next = at < 0 ? 0 : Math.min(paths.length - 1, Math.max(0, at + step));
  select(paths[next]);
}

function moveVertically(down) {
  const card = cardOf(selected);
  if (!card) return move(0);
  const here = card.getBoundingClientRect();
  let best = null;
  let bestScore = Infinity;
  for (const other of document.querySelectorAll("#grid .card")) {
    const box = other.getBoundingClientRect();
    const dy = down ? box.top - here.top : here.top - box.top;
    if (dy <= 1) continue;
    const score = dy * 10 + Math.abs(box.left - here.left);
    if (score < bestScore) [best, bestScore] = [other, score];
  }
  if (best) select(best.dataset.path);
}

function decide(decision, then) {
  // The page changes at once (keys can follow each other faster than the server
  // answers); the decision is saved in the background, and undone here if it is not.
  const item = state.items.find((i) => i.path === selected);
  if (!item) return;
  const before = item.decision;
  item.decision = decision;
  const card = cardOf(item.path);
  if (card) {
    card.classList.remove("accepted", "rejected", "unreviewed");
    card.classList.add(decision);
    card.querySelector(".badge").textContent = decision === "unreviewed" ? "" : decision;
  }
  renderPanel();
  if (then) then();
  post("/api/decide", { path: item.path, decision }).catch((error) => {
    item.decision = before;
    render();
    showError(`Not saved: ${error.message}`);
  });
}

// -- people --------------------------------------------------------------
function renderPeople() {
  const list = $("people");
  const shown = JSON.stringify(state.people);
  if (shown === peopleShown && list.childElementCount) return; // keep what is being typed
  peopleShown = shown;
  const merge = el("button", { type: "button", id: "merge" }, "Merge selected");
  merge.addEventListener("click", async () => {
    const chosen = [...list.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
    if (chosen.length < 2) return showError("Tick two or more people to merge.");
    try {
      for (const source of chosen.slice(1)) await post("/api/merge", { source, target: chosen[0] });
      await refresh();
    } catch (error) {
      showError(`Not merged: ${error.message}`);
    }
  });
  const rows = state.people.map((person) => {
    const box = el("input", { type: "checkbox", value: person.id, "aria-label": `select ${person.label}` });
    const name = el("input", {
      type: "text",
      value: drafts.has(person.id) ? drafts.get(person.id) : person.name || "",
      placeholder: "name",
      "aria-label": `name of ${person.label}`,
    });
    name.addEventListener("input", () => drafts.set(person.id, name.value));
    const save = el("button", { type: "button" }, "Rename");
    const rename = async () => {
      try {
        await post("/api/rename", { person: person.id, name: name.value });
        drafts.delete(person.id);
        await refresh();
      } catch (error) {
        showError(`Not renamed: ${error.message}`);
      }
    };
    save.addEventListener("click", rename);
    name.addEventListener("keydown", (event) => event.key === "Enter" && rename());
    const clips = person.clips ? ` · ${person.clips} clip${person.clips === 1 ? "" : "s"}` : "";
    const members = el("div", { class: "members" }, `${person.count} image${person.count === 1 ? "" : "s"}${clips} · ${person.members.join(", ")}`);
    if (person.members.length > 1) {
      for (const member of person.members.filter((m) => m !== person.id)) {
        const split = el("button", { type: "button", title: `separate ${member} again` }, `split ${member}`);
        split.addEventListener("click", async () => {
          await post("/api/split", { person: member }).catch((e) => showError(e.message));
          await refresh();
        });
        members.append(" ", split);
      }
    }
    return el(
      "div",
      { class: "person", dataset: { person: person.id } },
      box,
      el("div", { class: "info" }, el("strong", {}, person.label), members),
      el(
        "div",
        { class: "samples" },
        ...person.samples.map((path) => el("img", { src: fileUrl(path), alt: path, title: path, loading: "lazy" }))
      ),
      name,
      save
    );
  });
  list.replaceChildren(
    el("p", {}, "Tick people who are one person and merge them (into the first ticked in this list); name a person for export."),
    merge,
    ...rows
  );
}

// -- the whole page ------------------------------------------------------
function renderProgress() {
  const parts = state.progress.map((p) => {
    if (p.step === "done") return `${p.video}: done`;
    if (p.step === "write") return `${p.video}: writing ${p.written}/${p.planned}`;
    if (p.step === "clips") return `${p.video}: cutting clips (${p.clips} so far)`;
    return `${p.video}: ${p.step === "scan" ? "scanning" : p.step === "select" ? "selecting" : "finishing"}`;
  });
  const running = state.progress.some((p) => p.step !== "done");
  const node = $("progress");
  node.className = running ? "running" : "";
  node.replaceChildren(el("span", { class: running ? "running" : "" }, parts.join(" · ") || "no videos yet"));
  node.dataset.running = running ? "yes" : "no";
  node.dataset.videos = String(state.progress.length);
}

function render() {
  fillFilters();
  renderProgress();
  $("grid").hidden = view !== "images";
  $("people").hidden = view !== "people";
  $("filters").hidden = view !== "images";
  if (view === "images") renderGrid();
  else renderPeople();
  renderPanel();
}

async function refresh() {
  const response = await fetch("/api/state");
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) return showError(answer.error || response.statusText);
  state = answer;
  render();
}

function setView(name) {
  view = name;
  $("tab-images").classList.toggle("active", name === "images");
  $("tab-people").classList.toggle("active", name === "people");
  render();
}

for (const field of FIELDS) {
  $("f-" + field).addEventListener("change", (event) => {
    filters[field] = event.target.value;
    render();
    event.target.blur(); // the arrow keys go back to the images
  });
}
$("f-quality").addEventListener("input", (event) => {
  filters.quality = Number(event.target.value);
  $("f-quality-value").textContent = filters.quality.toFixed(2);
  render();
});
$("tab-images").addEventListener("click", () => setView("images"));
$("tab-people").addEventListener("click", () => setView("people"));
$("help-button").addEventListener("click", () => ($("help").hidden = !$("help").hidden));
for (const button of document.querySelectorAll(".decide button")) {
  button.addEventListener("click", () => decide(button.dataset.decision));
}

document.addEventListener("keydown", (event) => {
  const typing = event.target.matches && event.target.matches("input[type=text], select");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = {
    ArrowRight: () => move(1),
    ArrowLeft: () => move(-1),
    ArrowDown: () => moveVertically(true),
    ArrowUp: () => moveVertically(false),
    a: () => decide("accepted", () => move(1)),
    r: () => decide("rejected", () => move(1)),
    u: () => decide("unreviewed"),
    "?": () => ($("help").hidden = !$("help").hidden),
    Escape: () => ($("help").hidden = true),
  };
  const action = view === "images" || event.key === "?" || event.key === "Escape" ? actions[event.key] : null;
  if (action) {
    event.preventDefault();
    action();
  }
});

// Live: the server sends the whole state whenever the folder or the review changes.
const events = new EventSource("/api/events");
events.addEventListener("state", (event) => {
  state = JSON.parse(event.data);
  render();
  if (selected) {
    const card = cardOf(selected);
    if (card) card.classList.add("selected");
  }
});
refresh();
