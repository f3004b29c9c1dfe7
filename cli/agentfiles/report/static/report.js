// The script of `agents report`: conveniences only. Every page reads fully without it.
(function () {
  "use strict";

  // A filter box above a long table: rows that do not hold every typed word are hidden.
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.querySelector("table." + input.getAttribute("data-filter"));
    if (!table) { return; }
    input.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = !words.every(function (word) { return text.indexOf(word) !== -1; });
      });
    });
  });

  // Expand or collapse every request of a recorded conversation at once.
  document.querySelectorAll("details.context").forEach(function (box) {
    var body = box.querySelector(".details-body");
    if (!body || !body.querySelector("details")) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "toggle-all";
    button.textContent = "expand all";
    button.addEventListener("click", function () {
      var open = button.textContent === "expand all";
      body.querySelectorAll("details").forEach(function (part) { part.open = open; });
      button.textContent = open ? "collapse all" : "expand all";
    });
    body.insertBefore(button, body.firstChild);
  });

  // The graph: a node's links stand out while it is pointed at or focused.
  var graph = document.querySelector("svg.graph");
  if (graph) {
    var edges = graph.querySelectorAll("path.edge");
    graph.querySelectorAll("a.node").forEach(function (node) {
      var id = node.getAttribute("data-task");
      var mark = function (on) {
        edges.forEach(function (edge) {
          if (edge.getAttribute("data-from") === id || edge.getAttribute("data-to") === id) {
            edge.classList.toggle("lit", on);
          }
        });
      };
      ["mouseenter", "focus"].forEach(function (name) { node.addEventListener(name, function () { mark(true); }); });
      ["mouseleave", "blur"].forEach(function (name) { node.addEventListener(name, function () { mark(false); }); });
    });
  }

  // A link to a part inside a collapsed section opens the sections around it.
  var reveal = function () {
    var target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    for (var at = target; at; at = at.parentElement) {
      if (at.tagName === "DETAILS") { at.open = true; }
    }
  };
  window.addEventListener("hashchange", reveal);
  reveal();
})();
