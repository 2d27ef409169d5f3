// The indicator dashboard: time-series charts (Chart.js) from the snapshots embedded in
// the page, and the network graph (Cytoscape.js) with a date slider that replays growth.
(function () {
  "use strict";

  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // --- charts ----------------------------------------------------------------------
  var data = readJson("chart-data");
  var charts = {};

  function line(id, datasets, options) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) { return; }
    charts[id] = new window.Chart(canvas, {
      type: "line",
      data: { labels: data.dates, datasets: datasets },
      options: Object.assign({
        animation: false,
        responsive: true,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: { y: { beginAtZero: true } }
      }, options || {})
    });
  }

  function series(key, colour, extra) {
    return Object.assign({
      label: data.labels[key] || key,
      data: data.series[key],
      borderColor: colour,
      backgroundColor: colour,
      spanGaps: true,
      pointRadius: 2,
      tension: 0.2
    }, extra || {});
  }

  if (data && data.dates.length) {
    var regions = {};
    data.series.members_by_region.forEach(function (byRegion) {
      Object.keys(byRegion || {}).forEach(function (name) { regions[name] = true; });
    });
    var regionSets = Object.keys(regions).sort().map(function (name, index) {
      var colour = PALETTE[index % PALETTE.length];
      return {
        label: name,
        data: data.series.members_by_region.map(function (byRegion) {
          return byRegion ? (byRegion[name] || 0) : null;
        }),
        borderColor: colour,
        backgroundColor: colour + "55",
        fill: true,
        pointRadius: 2
      };
    });
    line("chart-members", regionSets, { scales: { y: { beginAtZero: true, stacked: true } } });
    line("chart-ties", [
      series("ties", "#1f77b4"),
      series("cross_region_ties", "#d62728"),
      series("cross_region_joint_projects", "#2ca02c")
    ]);
    line("chart-hub", [
      series("ei_index", "#9467bd"),
      series("hub_dependence", "#d62728"),
      series("brokered_share", "#ff7f0e"),
      series("coordinator_cross_region_path_share", "#7f7f7f", { borderDash: [4, 3] })
    ], { scales: { y: { min: -1, max: 1 } } });
    line("chart-engagement", [
      series("rsvp_response_rate", "#1f77b4"),
      series("attendance_rate", "#2ca02c"),
      series("bulletin_read_rate", "#ff7f0e")
    ], { scales: { y: { min: 0, max: 1 } } });
  }

  document.querySelectorAll(".chart-png").forEach(function (link) {
    link.addEventListener("click", function () {
      var chart = charts[link.dataset.chart];
      if (chart) { link.href = chart.toBase64Image("image/png", 1); }
    });
  });

  // --- the network graph -------------------------------------------------------------
  var container = document.getElementById("graph");
  if (!container || !window.cytoscape) { return; }
  var strings = readJson("graph-strings") || {};
  var SHAPES = {
    firm: "ellipse", chamber_of_commerce: "diamond", municipality: "rectangle",
    support_agency: "triangle", university: "star", trade_association: "hexagon",
    other: "round-rectangle"
  };
  var EDGE_STYLES = {
    acquaintance: { style: "dotted", width: 1, colour: "#999" },
    information_exchange: { style: "dashed", width: 1.5, colour: "#777" },
    transaction: { style: "solid", width: 2, colour: "#555" },
    joint_project: { style: "solid", width: 3.5, colour: "#1f77b4" },
    shared_customer: { style: "solid", width: 2.5, colour: "#2ca02c" },
    mutual_support_agreement: { style: "solid", width: 4.5, colour: "#d62728" }
  };
  var slider = document.getElementById("graph-date");
  var label = document.getElementById("graph-date-label");
  var hubToggle = document.getElementById("show-hub");
  var summary = document.getElementById("graph-summary");
  var cy = null;
  var months = [];

  // The first joining day, the first of each following month, and today.
  function monthList(first, last) {
    var list = [first];
    var day = new Date(first.slice(0, 7) + "-01T00:00:00Z");
    day.setUTCMonth(day.getUTCMonth() + 1);
    var end = new Date(last + "T00:00:00Z");
    while (day < end) {
      list.push(day.toISOString().slice(0, 10));
      day.setUTCMonth(day.getUTCMonth() + 1);
    }
    if (list[list.length - 1] !== last) { list.push(last); }
    return list;
  }

  function activeOn(item, start, end, day) {
    return item[start] && item[start] <= day && (!item[end] || item[end] > day);
  }

  function apply() {
    if (!cy) { return; }
    var day = months[Number(slider.value)] || months[months.length - 1];
    label.textContent = day;
    var showHub = hubToggle.checked;
    var members = 0;
    var ties = 0;
    cy.batch(function () {
      cy.nodes().forEach(function (node) {
        var d = node.data();
        var visible = activeOn(d, "joined_on", "left_on", day) &&
          (showHub || d.role !== "coordinator");
        node.style("display", visible ? "element" : "none");
        if (visible && d.role === "member") { members += 1; }
      });
      cy.edges().forEach(function (edge) {
        var d = edge.data();
        var visible = activeOn(d, "started_on", "ended_on", day) &&
          edge.source().style("display") !== "none" &&
          edge.target().style("display") !== "none";
        edge.style("display", visible ? "element" : "none");
        if (visible) { ties += 1; }
      });
    });
    summary.textContent = day + ": " + members + " " + (strings.members || "members") +
      ", " + ties + " " + (strings.ties || "ties");
  }

  function legend(regionColour) {
    var box = document.getElementById("graph-legend");
    var parts = Object.keys(regionColour).map(function (name) {
      var swatch = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      swatch.setAttribute("width", "12");
      swatch.setAttribute("height", "12");
      var dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
      dot.setAttribute("cx", "6");
      dot.setAttribute("cy", "6");
      dot.setAttribute("r", "5");
      dot.setAttribute("fill", regionColour[name]);
      swatch.appendChild(dot);
      var item = document.createElement("span");
      item.className = "me-3 text-nowrap";
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(" " + name));
      return item;
    });
    parts.forEach(function (part) { box.appendChild(part); });
  }

  fetch(container.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (graph) {
      var regionColour = {};
      graph.nodes.forEach(function (node) {
        if (node.region && !(node.region in regionColour)) {
          regionColour[node.region] = PALETTE[Object.keys(regionColour).length % PALETTE.length];
        }
      });
      legend(regionColour);
      var elements = graph.nodes.map(function (node) {
        return { group: "nodes", data: Object.assign({}, node, {
          colour: regionColour[node.region] || "#999",
          shape: SHAPES[node.kind] || "ellipse",
          size: node.role === "coordinator" ? 34 : 20
        }) };
      }).concat(graph.edges.map(function (edge) {
        var look = EDGE_STYLES[edge.kind] || EDGE_STYLES.transaction;
        return { group: "edges", data: Object.assign({}, edge, {
          lineStyle: look.style, width: look.width, colour: look.colour
        }) };
      }));
      cy = window.cytoscape({
        container: container,
        elements: elements,
        style: [
          { selector: "node", style: {
            "background-color": "data(colour)", shape: "data(shape)",
            width: "data(size)", height: "data(size)", label: "data(label)",
            "font-size": 9, "text-valign": "bottom", "text-margin-y": 2, color: "#333"
          } },
          { selector: "node[role = 'coordinator']", style: {
            "border-width": 3, "border-color": "#000", "font-weight": "bold"
          } },
          { selector: "edge", style: {
            "line-style": "data(lineStyle)", width: "data(width)", "line-color": "data(colour)",
            "curve-style": "bezier", opacity: 0.85
          } }
        ],
        // One layout of everybody, so that people keep their place while time moves.
        layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: 8000 }
      });
      var dates = graph.nodes.map(function (n) { return n.joined_on; }).filter(Boolean).sort();
      var today = new Date().toISOString().slice(0, 10);
      months = dates.length ? monthList(dates[0], today) : [today];
      slider.max = String(months.length - 1);
      slider.value = slider.max;
      apply();
      container.cy = cy;  // for the browser tests and the console
      container.dataset.ready = "true";
    });

  slider.addEventListener("input", apply);
  hubToggle.addEventListener("change", apply);

  var timer = null;
  document.getElementById("graph-play").addEventListener("click", function () {
    if (timer) { window.clearInterval(timer); timer = null; return; }
    slider.value = "0";
    apply();
    timer = window.setInterval(function () {
      if (Number(slider.value) >= Number(slider.max)) {
        window.clearInterval(timer);
        timer = null;
        return;
      }
      slider.value = String(Number(slider.value) + 1);
      apply();
    }, 400);
  });

  document.getElementById("graph-png").addEventListener("click", function (event) {
    if (!cy) { event.preventDefault(); return; }
    event.currentTarget.href = cy.png({ full: true, scale: 2, bg: "#ffffff" });
  });
}());
