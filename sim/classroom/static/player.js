/* TrustLadder's classroom player: plays a run the server (or an exported lesson file) computed in advance.
 *
 * Self-contained: no library, no network. The Python side (sim/classroom/trajectory.py) sends a run's whole
 * trajectory once, as JSON; everything a class watches (network, ladder, plots, the month scrubber, the
 * link to the month on screen) is drawn here, in SVG, so a month costs the browser a millisecond or two and
 * the server nothing.
 *
 * The player is a small state machine (data-state on its root):
 *   idle     month 0, nothing played yet: the moment to ask the class for a prediction;
 *   playing  months advance on a timer;
 *   paused   stopped at a month (by Pause, Step or the scrubber);
 *   ended    the last month of the run is on screen.
 * Every control does something sensible in every state, and loading a new run (a lesson, a view, a seed,
 * a slider) stops play and shows the new run idle at month 0 (or paused at the month a link asks for).
 *
 * Usage: const p = new TrustLadderPlayer(element, {syncAddress: false}); p.load(payload, {month: 0});
 */
(function (global) {
  "use strict";
  if (global.TrustLadderPlayer) { return; }
  const SVGNS = "http://www.w3.org/2000/svg";
  const SPEEDS = {slow: 4, normal: 10, fast: 24};  // months per second
  const GAUGE = 300;  // the trust gauge's height (trust 0 to 1) in a partnership drawing's units
  const CSS = `
.tlp { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #111; background: #fff;
       display: flex; flex-direction: column; gap: 6px; }
.tlp-controls { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.tlp button, .tlp select { font-size: 17px; padding: 4px 10px; border-radius: 6px; border: 1px solid #888;
       background: #f4f4f4; color: #111; cursor: pointer; font-family: inherit; }
.tlp button[data-tl=play] { background: #1f4e9c; color: #fff; border-color: #1f4e9c; min-width: 140px; }
.tlp button:disabled { opacity: 0.45; cursor: default; }
.tlp-scrubber { flex: 1 1 220px; min-width: 160px; height: 28px; accent-color: #e6550d; }
.tlp-month { font-size: 18px; font-weight: bold; min-width: 168px; font-variant-numeric: tabular-nums; }
.tlp-statusbar { display: flex; align-items: center; justify-content: space-between; gap: 10px; }
.tlp-status { font-size: 16px; color: #333; min-height: 20px; }
.tlp-chooser { font-size: 15px; color: #333; white-space: nowrap; }
.tlp .tlp-chooser select { font-size: 15px; padding: 2px 6px; max-width: 300px; }
.tlp-status b { color: #e6550d; }
.tlp-stage { display: grid; gap: 6px; min-height: 0; }
.tlp-single { grid-template-columns: 1fr 1fr; }
.tlp-pair { grid-template-columns: 1fr 1fr; grid-template-rows: 62fr 38fr; }
.tlp-pair .tlp-plots { grid-column: 1 / span 2; }
.tlp-stage svg { width: 100%; height: 100%; min-height: 0; display: block; overflow: visible; }
.tlp-stage.tlp-narrow { grid-template-columns: 1fr; grid-template-rows: none; }
.tlp-stage.tlp-narrow .tlp-plots { grid-column: auto; }
.tlp-stage.tlp-narrow svg { height: auto; }
.tlp-stage text { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; }
.tlp-notes { font-size: 15px; color: #444; font-style: italic; }
.tlp-linkbar { display: flex; align-items: center; gap: 8px; }
.tlp-linkbar label { font-size: 16px; color: #333; white-space: nowrap; }
.tlp-linkbar input { flex: 1; font-size: 15px; padding: 6px; border: 1px solid #aaa; border-radius: 4px;
       color: #111; background: #fafafa; min-width: 0; }
@media (max-height: 900px) {
  .tlp { gap: 4px; }
  .tlp button, .tlp select { font-size: 16px; padding: 2px 9px; }
  .tlp-linkbar input { padding: 3px 6px; }
  .tlp-status, .tlp-notes { font-size: 15px; }
}
`;

  function injectStyle(doc) {
    if (doc.getElementById("tlp-style")) { return; }
    const style = doc.createElement("style");
    style.id = "tlp-style";
    style.textContent = CSS;
    doc.head.appendChild(style);
  }

  function svg(tag, attrs, parent, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const key in attrs || {}) { node.setAttribute(key, attrs[key]); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function html(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const key in attrs || {}) { node.setAttribute(key, attrs[key]); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function tooltip(node, text) { if (text) { svg("title", {}, node, text); } return node; }

  /* Colour of a trust value on the palette's stops (evenly spaced from 0 to 1). */
  const parsedStops = new Map();  // the palette's stops, read once (a frame colours every edge)
  function trustColour(stops, t) {
    const key = stops.join();
    if (!parsedStops.has(key)) {
      parsedStops.set(key, stops.map(hex => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16))));
    }
    const rgb = parsedStops.get(key);
    const x = Math.max(0, Math.min(1, t)) * (rgb.length - 1);
    const k = Math.min(rgb.length - 2, Math.floor(x));
    const f = x - k;
    const c = rgb[k].map((v, i) => Math.round(v + f * (rgb[k + 1][i] - v)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) { return "–"; }
    return Number(value).toFixed(digits);
  }

  /* Ticks for a value axis: 0 (or lo), the middle and a round top. */
  function niceTop(hi) {
    if (!(hi > 0)) { return 1; }
    const p = Math.pow(10, Math.floor(Math.log10(hi)));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) { if (m * p >= hi) { return m * p; } }
    return 10 * p;
  }

  function shortNumber(v) {
    const a = Math.abs(v);
    if (a >= 10000) { return (v / 1000).toFixed(0) + "k"; }
    if (a >= 1000) { return (v / 1000).toFixed(1).replace(/\.0$/, "") + "k"; }
    if (a >= 10 || Number.isInteger(v)) { return String(Math.round(v)); }
    return v.toFixed(a >= 1 ? 1 : 2).replace(/0$/, "");
  }

  // --- what every drawing of one run shares: its svg, its text size, its title when two are side by side -----

  class RunView {
    constructor(parent, data, run, index, cls, aria) {
      this.data = data;
      this.run = run;
      this.root = svg("svg", {viewBox: "0 0 600 420", class: cls, "data-run": index,
                              preserveAspectRatio: "xMidYMid meet", role: "img", "aria-label": aria}, parent);
      // two runs side by side are drawn smaller on screen: their small text is drawn larger
      this.pair = data.runs.length > 1;
      this.F = this.pair ? 1.125 : 1;
      this.fs = size => (size * this.F).toFixed(1);
      if (this.pair) {
        const pal = data.palette;
        tooltip(svg("text", {x: 300, y: 20, "text-anchor": "middle", "font-size": 19, "font-weight": "bold",
                             fill: pal.runs[index % pal.runs.length]}, this.root, run.label), run.tooltip);
      }
      this.build(index);
    }
  }

  // --- one partnership: the network, the ladder and its trust gauge ------------------------------

  class PartnershipView extends RunView {
    constructor(parent, data, run, index) {
      super(parent, data, run, index, "tlp-partnership", `network and ladder of ${run.label}`);
    }

    build(index) {
      const {data, run, root, pair, F, fs} = this;
      const pal = data.palette;
      const n = run.n_orgs;
      this.title = svg("text", {x: 300, y: pair ? 44 : 24, "text-anchor": "middle", "font-size": pair ? 17 : 21,
                                "font-weight": "bold", class: "tlp-title"}, root);
      // network: organizations on a circle, the first at the top, clockwise (fixed: nobody moves)
      const cx = 150, cy = 195, R = 104;
      this.pos = [];
      for (let i = 0; i < n; i++) {
        const a = Math.PI / 2 - 2 * Math.PI * i / n;
        this.pos.push([cx + R * Math.cos(a), cy - R * Math.sin(a)]);
      }
      const edges = svg("g", {class: "tlp-edges"}, root);
      this.edges = run.pairs.map(([i, j]) => svg("line", {
        x1: this.pos[i][0].toFixed(1), y1: this.pos[i][1].toFixed(1),
        x2: this.pos[j][0].toFixed(1), y2: this.pos[j][1].toFixed(1), "stroke-linecap": "round"}, edges));
      const r = Math.max(4, Math.min(23, 260 / n));
      const nodes = svg("g", {class: "tlp-nodes"}, root);
      this.nodes = [];
      for (let i = 0; i < n; i++) {
        const g = svg("g", {}, nodes);
        const c = svg("circle", {cx: this.pos[i][0].toFixed(1), cy: this.pos[i][1].toFixed(1), r: r.toFixed(1),
                                 "stroke-width": 1.5}, g);
        tooltip(g, `seat ${i + 1}: an organization of the partnership (colour: its sector)`);
        let label = null;
        if (n <= 24) {
          label = svg("text", {x: this.pos[i][0].toFixed(1), y: (this.pos[i][1] + 5.5).toFixed(1),
                               "text-anchor": "middle", "font-size": fs(n <= 12 ? 16 : 12), "font-weight": "bold"},
                      g, String(i + 1));
        }
        this.nodes.push({circle: c, label: label});
      }
      // sector legend under the network
      const legend = svg("g", {class: "tlp-legend"}, root);
      const items = data.sectors.map((s, k) => [s, pal.sectors[s], false]).concat([["left", pal.gone, true]]);
      items.forEach(([name, colour, gone], k) => {
        const x = 16 + (k % 2) * 128, y = 342 + Math.floor(k / 2) * 23 * F;  // two columns: clear of the gauge
        svg("circle", {cx: x, cy: y - 5, r: 8, fill: colour, stroke: gone ? "#777" : "#000",
                       "stroke-dasharray": gone ? "3 2" : "none"}, legend);
        svg("text", {x: x + 13, y: y, "font-size": fs(16)}, legend, name);
      });
      // colour bar: the trust of a pair
      const bar = svg("g", {class: "tlp-colourbar"}, root);
      const grad = svg("linearGradient", {id: `tlp-grad-${Math.random().toString(36).slice(2)}`,
                                          x1: 0, y1: 1, x2: 0, y2: 0}, svg("defs", {}, bar));
      pal.trust.forEach((c, k) => svg("stop", {offset: k / (pal.trust.length - 1), "stop-color": c}, grad));
      svg("rect", {x: 282, y: 105, width: 12, height: 180, fill: `url(#${grad.id})`, stroke: "#555"}, bar);
      [[0, "0"], [0.5, "0.5"], [1, "1"]].forEach(([t, s]) =>
        svg("text", {x: 298, y: 290 - 180 * t, "font-size": fs(16)}, bar, s));
      tooltip(svg("text", {x: 292, y: 87, "text-anchor": "middle", "font-size": fs(16)}, bar, "pair trust"),
              "colour and width of a line: how far the two organizations trust each other (mean of both directions)");

      // the ladder: rungs at the trust each level needs, on the gauge's scale
      const ladder = svg("g", {class: "tlp-ladder"}, root);
      this.ladderGroup = ladder;
      const y = t => 372 - GAUGE * t;
      this.yTrust = y;
      svg("rect", {x: 336, y: y(1), width: 24, height: GAUGE, fill: "none", stroke: "#555", "stroke-width": 1.5},
          ladder);
      this.gauge = svg("rect", {x: 336, width: 24, y: y(0), height: 0, class: "tlp-gauge"}, ladder);
      tooltip(this.gauge, "mean trust between the partners (mean_trust), on the rungs' scale");
      this.gaugeTick = svg("path", {d: "", fill: "#111"}, ladder);
      for (const x of [380, 422]) {
        svg("line", {x1: x, y1: y(0), x2: x, y2: y(0.92), stroke: pal.wood, "stroke-width": 6,
                     "stroke-linecap": "round"}, ladder);
      }
      this.rungs = [];
      for (let k = 1; k < data.levels.names.length; k++) {
        const need = data.levels.need[k];
        const line = svg("line", {x1: 380, x2: 422, y1: y(need), y2: y(need), stroke: pal.wood,
                                  "stroke-width": 5, "stroke-linecap": "round"}, ladder);
        const words = data.levels.names[k].split(" ");
        const lines = words.length > 1 && data.levels.names[k].length > 14 ? words : [data.levels.names[k]];
        const box = svg("rect", {x: 430, width: 150, rx: 6, fill: "none"}, ladder);
        const label = svg("text", {x: 436, "font-size": fs(16), class: "tlp-rung", "data-level": k}, ladder);
        tooltip(label, `level ${k}: needs mean trust ${need.toFixed(2)}`);
        const lh = 18 * F;  // line height
        lines.forEach((w, i) => svg("tspan", {x: 436, dy: i === 0 ? 0 : lh}, label, (i === 0 ? `${k} ` : "") + w));
        const top = y(need) + 5.5 * F - lh / 2 * (lines.length - 1);
        label.setAttribute("y", top.toFixed(1));
        box.setAttribute("y", (top - 17 * F).toFixed(1));
        box.setAttribute("height", lh * lines.length + 6);
        box.setAttribute("width", 12 + 9.6 * F * Math.max(...lines.map((w, i) => w.length + (i === 0 ? 2 : 0))));
        this.rungs.push({line, label, box, level: k});
      }
      this.trustText = svg("text", {x: 336, y: 394, "font-size": fs(16)}, ladder);
      this.grantText = svg("text", {x: 336, y: 395 + 21 * F, "font-size": fs(16), fill: "#444"}, ladder);
      // the stamp of a dissolved partnership
      this.stamp = svg("g", {class: "tlp-stamp", visibility: "hidden",
                             transform: "rotate(-12 300 210)"}, root);
      svg("rect", {x: 150, y: 168, width: 300, height: 84, rx: 8, fill: "#fff", "fill-opacity": 0.92,
                   stroke: pal.dissolved, "stroke-width": 4}, this.stamp);
      svg("text", {x: 300, y: 205, "text-anchor": "middle", "font-size": 30, "font-weight": "bold",
                   fill: pal.dissolved}, this.stamp, "DISSOLVED");
      this.stampText = svg("text", {x: 300, y: 237, "text-anchor": "middle", "font-size": 19, "font-weight": "bold",
                                    fill: pal.dissolved}, this.stamp);
    }

    /* Draw the partnership as it stands after `month` months (month 0: the start). */
    draw(month) {
      const {data, run} = this;
      const pal = data.palette;
      const m = Math.min(month, run.end);
      const gone = run.dissolved_step !== null && month >= run.dissolved_step;
      const active = run.active[m];
      const members = active.split("").filter(c => c === "1").length;
      // newcomers and departures so far, where the model records them (series "joined" and "left")
      const sofar = name => (run.series[name] || []).slice(1, m + 1).reduce((a, v) => a + (v || 0), 0);
      const turnover = run.series.joined ? ` · ${sofar("joined")} joined, ${sofar("left")} left` : "";
      this.title.textContent = `month ${month} of ${data.n_steps} · ${members} of ${run.n_orgs} members${turnover}`;
      const trust = run.trust[m];
      const scale = Math.min(1, 8 / run.n_orgs);
      this.edges.forEach((line, p) => {
        const t = trust[p];
        if (t < 0) { line.setAttribute("visibility", "hidden"); return; }
        const v = t / 1000;
        line.setAttribute("visibility", "visible");
        line.setAttribute("stroke", trustColour(pal.trust, v));
        line.setAttribute("stroke-width", ((1 + 9 * v) * scale).toFixed(2));
      });
      this.nodes.forEach((node, i) => {
        const on = active[i] === "1";
        node.circle.setAttribute("fill", on ? pal.sectors[data.sectors[Number(run.sectors[m][i])]] : pal.gone);
        node.circle.setAttribute("stroke", on ? "#000" : "#777");
        node.circle.setAttribute("stroke-dasharray", on ? "none" : "4 3");
        if (node.label) { node.label.setAttribute("fill", on ? "#000" : "#777"); }
      });
      // the rung played in this month (at month 0: the rung the partnership starts on)
      const level = run.series.level[m];
      const fade = gone ? 0.35 : 1;
      this.ladderGroup.setAttribute("opacity", fade);
      for (const rung of this.rungs) {
        const now = rung.level === level && !gone;
        rung.line.setAttribute("stroke", now ? pal.highlight : pal.wood);
        rung.line.setAttribute("stroke-width", now ? 13 : 5);
        rung.box.setAttribute("fill", now ? pal.highlight : "none");
        rung.label.setAttribute("fill", now ? "#fff" : "#000");
        rung.label.setAttribute("font-weight", now ? "bold" : "normal");
        rung.label.classList.toggle("tlp-now", now);
      }
      const mt = run.series.mean_trust[m];
      if (mt === null) {
        this.gauge.setAttribute("height", 0);
        this.gaugeTick.setAttribute("d", "");
      } else {
        this.gauge.setAttribute("y", this.yTrust(mt).toFixed(1));
        this.gauge.setAttribute("height", (GAUGE * mt).toFixed(1));
        this.gauge.setAttribute("fill", trustColour(pal.trust, mt));
        const yt = this.yTrust(mt);
        this.gaugeTick.setAttribute("d", `M 362 ${yt.toFixed(1)} l 9 -6 l 0 12 z`);
      }
      this.trustText.textContent = mt === null ? "" : `mean trust ${fmt(mt, 2)}`;
      this.grantText.textContent = gone ? "" : (run.grant[m] || "");
      this.stamp.setAttribute("visibility", gone ? "visible" : "hidden");
      this.stampText.textContent = gone ? `in month ${run.dissolved_step}` : "";
    }
  }


  // --- a community: organizations by sector, and between two of them their strongest shared partnership ------

  class CommunityView extends RunView {
    constructor(parent, data, run, index) {
      super(parent, data, run, index, "tlp-community", `the community of ${run.label}`);
    }

    build(index) {
      const {data, run, root, pair, F, fs} = this;
      const pal = data.palette;
      const n = run.n_orgs;
      this.title = svg("text", {x: 300, y: pair ? 44 : 24, "text-anchor": "middle", "font-size": pair ? fs(17) : 20,
                                "font-weight": "bold", class: "tlp-title"}, root);
      // organizations on a circle, grouped by sector (fixed: nobody moves between months)
      const order = Array.from({length: n}, (_, i) => i)
        .sort((a, b) => (run.org_sectors[a] - run.org_sectors[b]) || (a - b));
      const cx = 190, cy = 228, R = 150;
      this.pos = new Array(n);
      order.forEach((org, k) => {
        const a = Math.PI / 2 - 2 * Math.PI * k / n;
        this.pos[org] = [cx + R * Math.cos(a), cy - R * Math.sin(a)];
      });
      // one line per pair that ever shares a partnership; a layer per rung, so higher rungs lie on top
      this.layers = [];
      const edges = svg("g", {class: "tlp-edges"}, root);
      for (let k = 1; k <= data.n_rungs; k++) { this.layers.push(svg("g", {"data-rung": k}, edges)); }
      this.lines = new Map();
      for (const month of run.edges) {
        for (const code of month) {
          const key = Math.floor(code / 8);
          if (this.lines.has(key)) { continue; }
          const a = Math.floor(key / n), b = key % n;
          const line = svg("line", {x1: this.pos[a][0].toFixed(1), y1: this.pos[a][1].toFixed(1),
                                    x2: this.pos[b][0].toFixed(1), y2: this.pos[b][1].toFixed(1),
                                    "stroke-linecap": "round", visibility: "hidden", class: "tlp-edge"},
                           this.layers[0]);
          line.dataset.pair = `${a}-${b}`;
          this.lines.set(key, {line, rung: 0});
        }
      }
      // partnerships that fell apart lately: their pairs dashed, on top, for a few months
      const broken = svg("g", {class: "tlp-broken"}, root);
      this.broken = new Map();
      for (const month of run.broke) {
        for (const key of month) {
          if (this.broken.has(key)) { continue; }
          const a = Math.floor(key / n), b = key % n;
          const line = svg("line", {x1: this.pos[a][0].toFixed(1), y1: this.pos[a][1].toFixed(1),
                                    x2: this.pos[b][0].toFixed(1), y2: this.pos[b][1].toFixed(1),
                                    stroke: pal.dissolved, "stroke-width": 2.5, "stroke-dasharray": "6 5",
                                    visibility: "hidden", class: "tlp-broken-edge"}, broken);
          line.dataset.pair = `${a}-${b}`;
          this.broken.set(key, line);
        }
      }
      this.nodes = [];
      const nodes = svg("g", {class: "tlp-nodes"}, root);
      for (let i = 0; i < n; i++) {
        const sector = data.sectors[Number(run.org_sectors[i])];
        const c = svg("circle", {cx: this.pos[i][0].toFixed(1), cy: this.pos[i][1].toFixed(1), r: 8,
                                 "stroke-width": 2, class: "tlp-org"}, nodes);
        tooltip(c, `organization ${i + 1} (${sector}); larger: in more partnerships at once`);
        this.nodes.push({circle: c, colour: pal.sectors[sector]});
      }
      // legend: sectors, then the rungs
      const legend = svg("g", {class: "tlp-legend"}, root);
      const lx = 388;
      let y = 84;
      data.sectors.forEach(name => {
        svg("circle", {cx: lx + 8, cy: y - 5, r: 8, fill: pal.sectors[name], stroke: "#000"}, legend);
        svg("text", {x: lx + 22, y: y, "font-size": fs(16)}, legend, name);
        y += 22 * F;
      });
      svg("circle", {cx: lx + 8, cy: y - 5, r: 7, fill: "#fff", stroke: "#555", "stroke-width": 2}, legend);
      svg("text", {x: lx + 22, y: y, "font-size": fs(16)}, legend, "in no partnership");
      y += 30 * F;
      tooltip(svg("text", {x: lx, y: y, "font-size": fs(16), "font-weight": "bold"}, legend, "a line: the rung"),
              "two organizations' strongest shared partnership this month: its rung on the ladder");
      y += 22 * F;
      for (let k = 1; k <= data.n_rungs; k++) {
        svg("line", {x1: lx, x2: lx + 26, y1: y - 5, y2: y - 5, stroke: pal.rungs[k - 1],
                     "stroke-width": this.width(k), "stroke-linecap": "round"}, legend);
        svg("text", {x: lx + 34, y: y, "font-size": fs(16)}, legend, `${k} ${data.levels.short[k]}`);
        y += 21 * F;
      }
      svg("line", {x1: lx, x2: lx + 26, y1: y - 5, y2: y - 5, stroke: pal.dissolved, "stroke-width": 2.5,
                   "stroke-dasharray": "6 5"}, legend);
      tooltip(svg("text", {x: lx + 34, y: y, "font-size": fs(16)}, legend, "fell apart"),
              `a partnership that fell apart in the last ${data.broken_months} months`);
      this.footer = svg("text", {x: cx, y: 410, "text-anchor": "middle", "font-size": fs(16), fill: "#333",
                                 class: "tlp-footer"}, root);
    }

    width(rung) { return 1 + 1.2 * rung; }

    /* Draw the community as it stands after `month` months (month 0: the start). */
    draw(month) {
      const {data, run} = this;
      const m = Math.min(month, run.end);
      const partnerships = run.series.partnerships[m] || 0;
      const collaborating = run.series.collaborating[m] || 0;
      this.title.textContent = `month ${month} of ${data.n_steps} · ${partnerships} partnerships, ` +
        `${collaborating} collaborating`;
      const now = new Map();
      for (const code of run.edges[m]) { now.set(Math.floor(code / 8), code % 8); }
      this.lines.forEach((entry, key) => {
        const rung = now.get(key) || 0;
        if (rung === entry.rung) { return; }
        entry.rung = rung;
        if (!rung) { entry.line.setAttribute("visibility", "hidden"); return; }
        entry.line.setAttribute("visibility", "visible");
        entry.line.setAttribute("stroke", data.palette.rungs[rung - 1]);
        entry.line.setAttribute("stroke-width", this.width(rung));
        entry.line.dataset.rung = rung;
        this.layers[rung - 1].appendChild(entry.line);
      });
      const gone = new Set(run.broke[m]);
      this.broken.forEach((line, key) => line.setAttribute("visibility", gone.has(key) ? "visible" : "hidden"));
      const belongs = run.belongs[m];
      this.nodes.forEach((node, i) => {
        const count = Number(belongs[i]);
        node.circle.setAttribute("fill", count ? node.colour : "#fff");
        node.circle.setAttribute("stroke", count ? "#000" : "#555");
        node.circle.setAttribute("r", count ? 6 + 2.5 * count : 7);
      });
      this.footer.textContent = `${run.formed[m]} partnerships formed so far, ${run.ended[m]} fell apart`;
    }
  }

  // --- the plots: mean trust (with the rung's need), level and a chosen series, month by month ------

  class PlotsView {
    constructor(parent, data, wide) {
      this.data = data;
      this.wide = wide;
      const size = wide ? [1200, 232] : [560, 500];
      this.root = svg("svg", {viewBox: `0 0 ${size[0]} ${size[1]}`, class: "tlp-plots",
                              preserveAspectRatio: "xMidYMid meet", role: "img", "aria-label": "plots"}, parent);
      this.panels = [];
      this.setPanels(data.panels);
    }

    setPanels(names) {
      while (this.root.firstChild) { this.root.removeChild(this.root.firstChild); }
      this.panels = names.map((name, k) => this.buildPanel(name, k, names.length));
      if (this.data.runs.length > 1) {
        const community = this.data.kind === "community";
        const legend = svg("g", {class: "tlp-run-legend"}, this.root);
        let x = 110;
        this.data.runs.forEach((run, k) => {
          svg("line", {x1: x, x2: x + 30, y1: 12, y2: 12, stroke: this.data.palette.runs[k], "stroke-width": 4},
              legend);
          const t = tooltip(svg("text", {x: x + 38, y: 18, "font-size": 17}, legend, run.label), run.tooltip);
          x += 60 + 10.5 * run.label.length;
          return t;
        });
        if (!community) {
          svg("line", {x1: x, x2: x + 30, y1: 12, y2: 12, stroke: "#555", "stroke-width": 1.5,
                       "stroke-dasharray": "6 4"}, legend);
          svg("text", {x: x + 38, y: 18, "font-size": 17}, legend, "the rung's need (mean trust)");
        }
      }
    }

    buildPanel(name, k, count) {
      const {data, wide} = this;
      const info = data.series[name];
      const box = wide ? {x: 105 + k * 400, y: 56, w: 280, h: 130}
                       : {x: 118, y: 34 + k * 154, w: 425, h: 98};
      const g = svg("g", {class: "tlp-panel", "data-series": name}, this.root);
      // the strip under two partnerships has 400 units a panel: a long title leaves its unit to the tooltip
      const shown = wide && info.title.length > 34 ? info.title.replace(/ \(.*\)$/, "") : info.title;
      const title = svg("text", {x: box.x - 108, y: box.y - 16, "font-size": 18, "font-weight": "bold",
                                 class: "tlp-panel-title"}, g, shown);
      tooltip(title, `${info.name} in the model: ${info.meaning}${info.unit ? ` (${info.unit})` : ""}`);
      const range = this.range(name);
      const x = m => box.x + box.w * m / data.n_steps;
      const y = v => box.y + box.h - box.h * (v - range[0]) / (range[1] - range[0]);
      const ticks = name === "level" ? data.levels.names.map((s, i) => [i, data.levels.short[i]])
                                     : [range[0], (range[0] + range[1]) / 2, range[1]].map(v => [v, shortNumber(v)]);
      const small = wide ? 16 : 14;  // the strip under two partnerships is drawn smaller on screen
      for (const [v, label] of ticks) {
        svg("line", {x1: box.x, x2: box.x + box.w, y1: y(v), y2: y(v), stroke: "#e3e3e3"}, g);
        svg("text", {x: box.x - 6, y: y(v) + 5, "text-anchor": "end", "font-size": small,
                     class: name === "level" ? "tlp-level-tick" : "", "data-level": name === "level" ? v : ""},
            g, label);
      }
      for (let m = 0; m <= data.n_steps; m += data.month_tick) {
        svg("line", {x1: x(m), x2: x(m), y1: box.y, y2: box.y + box.h, stroke: "#efefef"}, g);
        svg("text", {x: x(m), y: box.y + box.h + 17, "text-anchor": "middle", "font-size": small}, g, String(m));
      }
      if (wide || k === count - 1) {
        svg("text", {x: box.x + box.w / 2, y: box.y + box.h + 36, "text-anchor": "middle", "font-size": 16}, g,
            "month");
      }
      svg("rect", {x: box.x, y: box.y, width: box.w, height: box.h, fill: "none", stroke: "#999"}, g);
      const lines = data.runs.map((run, r) => {
        const colour = data.palette.runs[r % data.palette.runs.length];
        const need = name === "mean_trust" && data.kind !== "community"
          ? svg("polyline", {fill: "none", stroke: colour, "stroke-width": 1.5, "stroke-dasharray": "6 4",
                             opacity: 0.75, class: "tlp-need"}, g) : null;
        const line = svg("polyline", {fill: "none", stroke: colour, "stroke-width": 3, "stroke-linejoin": "round",
                                      class: "tlp-line", "data-run": r}, g);
        const gone = svg("line", {y1: box.y, y2: box.y + box.h, stroke: colour, "stroke-width": 1.5,
                                  "stroke-dasharray": "2 3", visibility: "hidden"}, g);
        const now = svg("circle", {r: 5, fill: colour, stroke: "#fff", "stroke-width": 1.5, class: "tlp-now",
                                   "data-run": r, visibility: "hidden"}, g);
        return {run, line, need, gone, now};
      });
      if (name === "mean_trust" && !wide && data.kind !== "community") {
        svg("text", {x: box.x + box.w, y: box.y - 16, "text-anchor": "end", "font-size": 14, fill: "#444"}, g,
            "dashed: the rung's need");
      }
      return {name, info, box, x, y, lines};
    }

    range(name) {
      const info = this.data.series[name];
      if (info.range) { return info.range; }
      let lo = Infinity, hi = -Infinity;
      for (const run of this.data.runs) {
        for (const v of run.series[name] || []) {
          if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        }
      }
      if (!Number.isFinite(lo)) { return [0, 1]; }
      if (lo >= 0) { lo = 0; }
      if (hi <= lo) { hi = lo + 1; }
      return [lo < 0 ? -niceTop(-lo) : lo, niceTop(hi)];
    }

    draw(month) {
      const {data} = this;
      for (const panel of this.panels) {
        for (const {run, line, need, gone, now} of panel.lines) {
          const values = run.series[panel.name] || [];
          const last = Math.min(month, run.end, values.length - 1);
          const points = [];
          const needs = [];
          const step = panel.info.step;
          let lastY = null, lastNeed = null;
          for (let m = 0; m <= last; m++) {
            const v = values[m];
            if (v === null) { continue; }
            const px = panel.x(m).toFixed(1), py = panel.y(v).toFixed(1);
            if (step && lastY !== null) { points.push(`${px},${lastY}`); }
            points.push(`${px},${py}`);
            lastY = py;
            if (need) {
              const lv = run.series.level[m];
              if (lv > 0) {
                const ny = panel.y(data.levels.need[lv]).toFixed(1);
                if (lastNeed !== null) { needs.push(`${px},${lastNeed}`); }
                needs.push(`${px},${ny}`);
                lastNeed = ny;
              }
            }
          }
          line.setAttribute("points", points.join(" "));
          if (need) { need.setAttribute("points", needs.join(" ")); }
          const v = values[last];
          if (v === null || v === undefined || last < 0) {
            now.setAttribute("visibility", "hidden");
          } else {
            now.setAttribute("visibility", "visible");
            now.setAttribute("cx", panel.x(last).toFixed(1));
            now.setAttribute("cy", panel.y(v).toFixed(1));
          }
          const ended = run.dissolved_step !== null && month >= run.dissolved_step;
          gone.setAttribute("visibility", ended ? "visible" : "hidden");
          if (ended) {
            gone.setAttribute("x1", panel.x(run.dissolved_step));
            gone.setAttribute("x2", panel.x(run.dissolved_step));
          }
        }
      }
    }
  }

  // --- the player --------------------------------------------------------------------------------

  class TrustLadderPlayer {
    constructor(element, options) {
      this.options = Object.assign({syncAddress: false, onMonth: null}, options || {});
      this.element = element;
      this.state = "idle";
      this.month = 0;
      this.speed = "normal";
      this.frameTimes = [];
      this.timer = null;
      injectStyle(element.ownerDocument);
      this.root = html("div", {class: "tlp", "data-state": "idle", tabindex: "0"}, element);
      const bar = html("div", {class: "tlp-controls"}, this.root);
      this.playButton = html("button", {type: "button", "data-tl": "play"}, bar, "▶ Play");
      this.stepButton = html("button", {type: "button", "data-tl": "step", title: "one month on (→)"}, bar,
                             "Step ▸");
      this.restartButton = html("button", {type: "button", "data-tl": "restart", title: "back to month 0 (Home)"},
                                bar, "↺ Month 0");
      this.scrubber = html("input", {type: "range", min: 0, max: 0, value: 0, step: 1, class: "tlp-scrubber",
                                     "data-tl": "scrubber", "aria-label": "month"}, bar);
      this.monthText = html("span", {class: "tlp-month", "data-tl": "month"}, bar);
      this.speedSelect = html("select", {"data-tl": "speed", "aria-label": "speed", title: "playing speed"}, bar);
      for (const [key, label] of [["slow", "Slow"], ["normal", "Normal"], ["fast", "Fast"]]) {
        const o = html("option", {value: key}, this.speedSelect, label);
        o.title = `${SPEEDS[key]} months a second`;
        if (key === this.speed) { o.selected = true; }
      }
      const statusbar = html("div", {class: "tlp-statusbar"}, this.root);
      this.statusText = html("div", {class: "tlp-status", "data-tl": "status"}, statusbar);
      const chooser = html("label", {class: "tlp-chooser"}, statusbar, "Last plot: ");
      this.panelSelect = html("select", {"data-tl": "panel", "aria-label": "last plot",
                                         title: "any series the model records"}, chooser);
      this.panelSelect.addEventListener("change", () => this.choosePanel(this.panelSelect.value));
      this.stage = html("div", {class: "tlp-stage"}, this.root);
      this.notes = html("div", {class: "tlp-notes", "data-tl": "notes"}, this.root);
      const linkbar = html("div", {class: "tlp-linkbar"}, this.root);
      html("label", {}, linkbar, "Link to this run at this month:");
      this.linkInput = html("input", {readonly: "", "data-tl": "link", "aria-label": "link"}, linkbar);
      this.copyButton = html("button", {type: "button", "data-tl": "copy"}, linkbar, "Copy link");

      this.playButton.addEventListener("click", () => this.toggle());
      this.stepButton.addEventListener("click", () => this.step());
      this.restartButton.addEventListener("click", () => this.restart());
      this.scrubber.addEventListener("input", () => this.seek(Number(this.scrubber.value)));
      this.speedSelect.addEventListener("change", () => { this.speed = this.speedSelect.value; });
      this.copyButton.addEventListener("click", () => this.copyLink());
      this.root.addEventListener("keydown", event => this.key(event));
      this.onResize = () => this.fit();
      global.addEventListener("resize", this.onResize);
      // the page around the player changes its width too (a sidebar opening): follow the player's own width
      this.observer = global.ResizeObserver ? new global.ResizeObserver(() => {
        if (this.root.clientWidth !== this.lastWidth) { this.lastWidth = this.root.clientWidth; this.fit(); }
      }) : null;
      if (this.observer) { this.observer.observe(this.root); }
      (global.tlPlayers = global.tlPlayers || []).push(this);
    }

    /* Show a new run: stop play, draw it at `month` (0: idle, ready for the class's prediction). */
    load(data, opts) {
      this.stopTimer();
      const month = Math.max(0, Math.min(Number((opts && opts.month) || 0) || 0, data.end));
      this.data = data;
      this.link = (opts && opts.link) || data.link || "";
      while (this.stage.firstChild) { this.stage.removeChild(this.stage.firstChild); }
      const pair = data.runs.length > 1;
      this.stage.className = `tlp-stage ${pair ? "tlp-pair" : "tlp-single"}`;
      const View = data.kind === "community" ? CommunityView : PartnershipView;
      this.views = data.runs.map((run, k) => new View(this.stage, data, run, k));
      this.plots = new PlotsView(this.stage, data, pair);
      this.views.push(this.plots);
      this.scrubber.max = data.end;
      while (this.panelSelect.firstChild) { this.panelSelect.removeChild(this.panelSelect.firstChild); }
      const last = data.panels[data.panels.length - 1];
      for (const name of Object.keys(data.series)) {
        const o = html("option", {value: name}, this.panelSelect, data.series[name].title);
        o.title = `${name}: ${data.series[name].meaning}`;
        if (name === last) { o.selected = true; }
      }
      this.notes.textContent = (data.notes || []).join(" ");
      this.month = month;
      this.setState(month === 0 ? "idle" : (month >= data.end ? "ended" : "paused"));
      this.render();
      this.fit();
      this.loads = (this.loads || 0) + 1;
      this.loadedAt = performance.now();  // when the new run was drawn (the tests time a lesson switch by it)
    }

    /* Show another series in the last plot (any series the payload carries). */
    choosePanel(name) {
      if (!this.data || !this.data.series[name]) { return; }
      const panels = this.data.panels.slice(0, -1).concat([name]);
      this.plots.data = Object.assign({}, this.data, {panels: panels});
      this.plots.setPanels(panels);
      this.plots.draw(this.month);
    }

    setState(state) {
      this.state = state;
      this.root.dataset.state = state;
      const end = this.data ? this.data.end : 0;
      this.playButton.textContent = state === "playing" ? "❚❚ Pause" : (state === "ended" ? "▶ Play again" : "▶ Play");
      this.stepButton.disabled = state === "ended" || this.month >= end;
      this.restartButton.disabled = this.month === 0 && state !== "playing";
    }

    toggle() {
      if (!this.data) { return; }
      if (this.state === "playing") { this.pause(); } else { this.play(); }
    }

    play() {
      if (!this.data || this.state === "playing") { return; }
      if (this.state === "ended" || this.month >= this.data.end) { this.month = 0; }
      this.setState("playing");
      this.render();
      this.startTimer();
    }

    pause() {
      if (this.state !== "playing") { return; }
      this.stopTimer();
      this.setState(this.month >= this.data.end ? "ended" : "paused");
      this.render();
    }

    step() {
      if (!this.data) { return; }
      this.stopTimer();
      if (this.month < this.data.end) { this.month += 1; }
      this.setState(this.month >= this.data.end ? "ended" : "paused");
      this.render();
    }

    back() {
      if (!this.data) { return; }
      this.stopTimer();
      this.month = Math.max(0, this.month - 1);
      this.setState(this.month === 0 ? "idle" : "paused");
      this.render();
    }

    restart() {
      if (!this.data) { return; }
      this.stopTimer();
      this.month = 0;
      this.setState("idle");
      this.render();
    }

    seek(month) {
      if (!this.data) { return; }
      this.stopTimer();
      this.month = Math.max(0, Math.min(month, this.data.end));
      this.setState(this.month === 0 ? "idle" : (this.month >= this.data.end ? "ended" : "paused"));
      this.render();
    }

    key(event) {
      if (event.target && /^(INPUT|SELECT|BUTTON)$/.test(event.target.tagName) && event.key !== " ") { return; }
      const actions = {" ": () => this.toggle(), ArrowRight: () => this.step(), ArrowLeft: () => this.back(),
                       Home: () => this.restart()};
      if (actions[event.key] && !(event.key === " " && event.target.tagName === "BUTTON")) {
        event.preventDefault();
        actions[event.key]();
      }
    }

    startTimer() {
      this.stopTimer();
      let last = performance.now();
      let owed = 0;
      const tick = now => {
        if (this.state !== "playing") { return; }
        owed += (now - last) * SPEEDS[this.speed] / 1000;
        last = now;
        if (owed >= 1) {
          const months = Math.floor(owed);
          owed -= months;
          this.month = Math.min(this.data.end, this.month + months);
          if (this.month >= this.data.end) {
            this.timer = null;
            this.setState("ended");
            this.render();
            return;
          }
          this.render();
        }
        this.timer = global.requestAnimationFrame(tick);
      };
      this.timer = global.requestAnimationFrame(tick);
    }

    stopTimer() {
      if (this.timer !== null) { global.cancelAnimationFrame(this.timer); }
      this.timer = null;
    }

    render() {
      const t0 = performance.now();
      for (const view of this.views) { view.draw(this.month); }
      const data = this.data;
      this.scrubber.value = this.month;
      this.monthText.textContent = `month ${this.month} of ${data.n_steps}`;
      this.setState(this.state);
      this.statusText.innerHTML = this.statusHtml();
      this.linkInput.value = this.linkAt(this.month);
      if (this.options.syncAddress && this.state !== "playing") { this.writeAddress(); }
      if (this.options.onMonth) { this.options.onMonth(this.month, this.state); }
      this.frameTimes.push(performance.now() - t0);
      if (this.frameTimes.length > 2000) { this.frameTimes.splice(0, 1000); }
    }

    statusHtml() {
      const data = this.data;
      const ends = data.runs.map(r => r.dissolved_step).filter(d => d !== null && d <= this.month);
      switch (this.state) {
        case "idle": return "<b>Ready at month 0.</b> Ask the class what will happen, then press ▶ Play.";
        case "playing": return "Playing… (Space pauses, → steps one month)";
        case "paused": return `Paused at month ${this.month}: ▶ Play goes on.`;
        default:
          return data.runs.length === 1 && ends.length
            ? `<b>The end:</b> the partnership dissolved in month ${ends[0]}.`
            : `<b>The end:</b> month ${this.month} of ${data.n_steps}.`;
      }
    }

    linkAt(month) {
      if (!this.link) { return ""; }
      const base = this.link.replace(/([?&])month=\d*(&|$)/, "$1").replace(/[?&]$/, "");
      if (!month) { return base; }
      return base + (base.includes("?") ? "&" : "?") + `month=${month}`;
    }

    writeAddress() {
      try {
        const url = new URL(global.location.href);
        if (this.month) { url.searchParams.set("month", String(this.month)); } else { url.searchParams.delete("month"); }
        if (url.href !== global.location.href) { global.history.replaceState(global.history.state, "", url.href); }
      } catch (err) { /* an address the browser will not rewrite (file://): the link box still has it */ }
    }

    copyLink() {
      const text = this.linkInput.value;
      const done = () => {
        this.copyButton.textContent = "Copied!";
        setTimeout(() => { this.copyButton.textContent = "Copy link"; }, 2000);
      };
      if (navigator.clipboard && global.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, () => this.copyFallback(done));
      } else {
        this.copyFallback(done);
      }
    }

    copyFallback(done) {
      this.linkInput.select();
      try { document.execCommand("copy"); } catch (err) { /* nothing more to try */ }
      done();
    }

    /* Size the stage to the window: a single partnership fits a 1280 x 800 screen without scrolling. */
    fit() {
      if (!this.data) { return; }
      // too narrow for side by side (a small screen with the sidebar open): one drawing under the other
      const narrow = this.stage.clientWidth < 800;
      this.stage.classList.toggle("tlp-narrow", narrow);
      if (narrow) { this.stage.style.height = "auto"; return; }
      const top = this.stage.getBoundingClientRect().top + (global.scrollY || 0);
      const below = this.notes.offsetHeight + this.root.lastChild.offsetHeight + 26;
      const least = this.data.runs.length > 1 ? 400 : 360;
      const height = Math.max(least, global.innerHeight - top - below);
      this.stage.style.height = `${Math.round(height)}px`;
    }

    stats() {
      const t = this.frameTimes.slice().sort((a, b) => a - b);
      const mean = t.reduce((a, b) => a + b, 0) / Math.max(1, t.length);
      return {frames: t.length, mean_ms: mean, max_ms: t.length ? t[t.length - 1] : 0,
              p95_ms: t.length ? t[Math.floor(0.95 * (t.length - 1))] : 0};
    }

    destroy() {
      this.stopTimer();
      global.removeEventListener("resize", this.onResize);
      if (this.observer) { this.observer.disconnect(); }
      global.tlPlayers = (global.tlPlayers || []).filter(p => p !== this);
      if (this.root.parentNode) { this.root.parentNode.removeChild(this.root); }
    }
  }

  global.TrustLadderPlayer = TrustLadderPlayer;
})(typeof window !== "undefined" ? window : this);
